"""Step functions: one step at a time equals the model's forward on whole sequences (values), and generation
through them draws the tokens the old per-token ``forward`` loop drew with the same seed; batched = one by one."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.data.corpus import CorpusConfig, context_token
from rnnkit.decode import beam_search, greedy_search, sample_next, step_function
from rnnkit.decode.steps import LanguageModelStep, cell_step
from rnnkit.models import (
    ConditionalGenerator,
    ConditionalGeneratorConfig,
    LanguageModel,
    LanguageModelConfig,
    Seq2Seq,
    Seq2SeqConfig,
)
from rnnkit.nn import GRUCell, LayerNormLSTMCell, LSTMCell
from rnnkit.nn.cells import ElmanCell
from rnnkit.tasks.lm.predict import LanguageModelPredictor
from rnnkit.text import Vocab

TEXT = "the quick brown fox jumps over the lazy dog\nand then some more text\n"


def language_model(cell: str, backend: str = "auto", seed: int = 0, **options) -> LanguageModel:
    torch.manual_seed(seed)
    config = LanguageModelConfig(cell=cell, embedding_size=8, hidden_size=12, num_layers=2, backend=backend,
                                 **options)
    return LanguageModel(20, config).eval()


@pytest.mark.parametrize(("cell", "backend"), [("lstm", "fused"), ("lstm", "explicit"), ("gru", "fused"),
                                               ("rnn", "explicit"), ("lnlstm", "explicit")])
def test_stepping_a_sequence_equals_the_models_forward(cell, backend):
    model = language_model(cell, backend, tie_weights=cell == "lstm")
    ids = torch.randint(0, 20, (3, 7))
    expected, expected_state = model(ids)  # (B, T, V)
    stepper = step_function(model)
    state = stepper.initial_state(3)
    logits = []
    for t in range(ids.shape[1]):
        step_logits, state = stepper(ids[:, t], state)
        logits.append(step_logits)
    torch.testing.assert_close(torch.stack(logits, dim=1), expected, rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(stepper.to_model_state(state), expected_state, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell_type", [LSTMCell, GRUCell, ElmanCell, LayerNormLSTMCell, torch.nn.LSTMCell])
def test_cell_step_equals_the_cell(cell_type):
    torch.manual_seed(1)
    cell = cell_type(5, 6)
    x, h = torch.randn(4, 5), torch.randn(4, 6)
    state = (h, torch.randn(4, 6)) if cell_type in (LSTMCell, LayerNormLSTMCell, torch.nn.LSTMCell) else h
    _, ours = cell_step(cell)(x, state)
    theirs = cell(x, state)
    for a, b in zip(ours if isinstance(ours, tuple) else (ours,), theirs if isinstance(theirs, tuple) else (theirs,),
                    strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("stepped_prefill_limit", [0, 16])  # the whole-sequence layers, or the step function
def test_banned_tokens_get_no_probability_and_prefill_reads_ragged_prompts(stepped_prefill_limit):
    model = language_model("lstm")
    stepper = step_function(model, banned=[0, 3])
    stepper.stepped_prefill_limit = stepped_prefill_limit
    prompts = [torch.tensor([4, 5, 6, 7]), torch.tensor([8, 9]), torch.tensor([1, 2, 3, 4])]
    ids = torch.nn.utils.rnn.pad_sequence(prompts, batch_first=True)
    logits, state = stepper.prefill(ids, torch.tensor([4, 2, 4]))
    assert torch.isneginf(logits[:, [0, 3]]).all()
    for row, prompt in enumerate(prompts):
        alone, alone_state = model(prompt.unsqueeze(0))
        torch.testing.assert_close(logits[row, 4:], alone[0, -1, 4:], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(state[0][0][row], alone_state[0][0][0, 0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(state[1][1][row], alone_state[1][1][0, 0], rtol=1e-5, atol=1e-5)
    step_logits, _ = stepper(torch.tensor([1, 2, 5]), state)
    assert torch.isneginf(step_logits[:, [0, 3]]).all()


def test_step_function_refuses_training_mode_and_other_models():
    with pytest.raises(ValueError, match="eval mode"):
        step_function(language_model("lstm").train())
    with pytest.raises(ValueError, match="expected a LanguageModel"):
        step_function(torch.nn.Linear(2, 2))


def predictor(level: str = "char") -> LanguageModelPredictor:
    corpus = CorpusConfig(level=level)
    tokens = list(TEXT) if level == "char" else TEXT.replace("\n", " <eos> ").split()
    vocab = Vocab.build([tokens], specials=("<pad>", "<unk>") if level == "char" else ("<pad>", "<unk>", "<eos>"))
    torch.manual_seed(3)
    config = LanguageModelConfig(embedding_size=8, hidden_size=16, num_layers=2)
    return LanguageModelPredictor(LanguageModel(len(vocab), config), vocab, corpus)


def old_generate(lm: LanguageModelPredictor, prompt: str, length: int, temperature: float, top_k, top_p,
                 seed: int) -> str:
    """The generation loop before step functions: the whole model's forward per token, sample_next per step."""
    tokens = [context_token(lm.corpus), *list(prompt)]
    generator = torch.Generator().manual_seed(seed)
    banned = [lm.vocab.stoi["<pad>"], lm.vocab.stoi["<unk>"]]
    logits, state = lm.model(torch.tensor([lm.vocab.encode(tokens)]))
    next_logits, generated = logits[:, -1], []
    for _ in range(length):
        next_logits = next_logits.float()
        next_logits[:, banned] = -math.inf
        token = sample_next(next_logits, temperature, top_k, top_p, generator)
        generated.append(lm.vocab.decode([int(token)])[0])
        logits, state = lm.model(token.view(1, 1), state)
        next_logits = logits[:, -1]
    return prompt + "".join(generated)


@pytest.mark.parametrize(("temperature", "top_k", "top_p"), [(1.0, None, None), (0.7, 5, None), (1.3, None, 0.9),
                                                             (0.0, None, None), (1.0, 4, 0.8)])
def test_generation_draws_the_tokens_of_the_old_loop(temperature, top_k, top_p):
    lm = predictor()
    for seed, prompt in ((0, "the q"), (1, "the quick brown fox jumps over the lazy")):  # stepped / fused prefill
        expected = old_generate(lm, prompt, 40, temperature, top_k, top_p, seed)
        assert lm.generate(prompt, length=40, temperature=temperature, top_k=top_k, top_p=top_p,
                           seed=seed) == expected


@pytest.mark.parametrize("level", ["char", "word"])
def test_batched_generation_equals_one_by_one_when_greedy(level):
    lm = predictor(level)
    prompts = ["the quick brown", "and", "", "lazy dog\n", "some more text and then the quick brown fox jumps"]
    batched = lm.generate_batch(prompts, length=12, temperature=0.0)
    assert batched == [lm.generate(prompt, length=12, temperature=0.0) for prompt in prompts]
    sampled = lm.generate_batch(prompts, length=12, seed=5)
    assert sampled == lm.generate_batch(prompts, length=12, seed=5)
    assert all(text.startswith(prompt) for text, prompt in zip(sampled, prompts, strict=True))


def test_generate_batch_names_the_bad_prompt():
    lm = predictor()
    with pytest.raises(ValueError, match=r"prompts\[1\]"):
        lm.generate_batch(["the", "\u00e9\u00e9"], length=3)
    with pytest.raises(ValueError, match="non-empty list"):
        lm.generate_batch([], length=3)


def test_a_stepper_state_goes_on_with_the_model():
    model = language_model("gru")
    stepper = LanguageModelStep(model)
    ids = torch.randint(0, 20, (2, 5))
    _, state = stepper.prefill(ids[:, :3])
    logits, state = stepper(ids[:, 3], state)
    expected, _ = model(ids[:, 3:4], LanguageModelStep.to_model_state(stepper.from_model_state(
        model(ids[:, :3])[1])))
    torch.testing.assert_close(logits, expected[:, 0], rtol=1e-5, atol=1e-5)


class ThroughModelStep(torch.nn.Module):
    """A Seq2Seq seen only through its own ``step`` / ``logits`` (so beam search takes its duck-typed path)."""

    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.inner = model

    def encode(self, source, lengths):
        return self.inner.encode(source, lengths)

    def step(self, tokens, state, encoded):
        return self.inner.step(tokens, state, encoded)

    def logits(self, features):
        return self.inner.logits(features)


@pytest.mark.parametrize(("cell", "attention"), [("lstm", "additive"), ("gru", "none"), ("rnn", "dot"),
                                               ("lstm", "general")])
def test_seq2seq_step_equals_the_models_step_and_beam_search_is_unchanged(cell, attention):
    torch.manual_seed(4)
    config = Seq2SeqConfig(cell=cell, embedding_size=8, hidden_size=8, num_layers=2, attention=attention,
                           bidirectional=attention != "dot", dropout=0.0)
    model = Seq2Seq(11, 9, config).eval()
    source = torch.randint(2, 11, (3, 6))
    lengths = torch.tensor([6, 4, 2])
    source[torch.arange(6) >= lengths.unsqueeze(1)] = 0
    encoded, state = model.encode(source, lengths)
    stepper = step_function(model)
    ours = stepper.from_model_state(state)
    tokens = torch.tensor([1, 1, 1])
    for _ in range(4):
        features, state, weights = model.step(tokens, state, encoded)
        logits, ours, our_weights = stepper(tokens, ours, encoded)
        torch.testing.assert_close(logits, model.logits(features), rtol=1e-5, atol=1e-5)
        if weights is not None:
            torch.testing.assert_close(our_weights, weights)
        tokens = logits.argmax(1)
    for a, b in zip(stepper.to_model_state(ours) if cell == "lstm" else (stepper.to_model_state(ours),),
                    state if cell == "lstm" else (state,), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for search in (greedy_search, lambda *a, **k: beam_search(*a, beam_size=3, **k)):
        fast = search(model, source, lengths, 1, 2, banned=[0])
        slow = search(ThroughModelStep(model), source, lengths, 1, 2, banned=[0])
        assert fast.tokens == slow.tokens and fast.finished == slow.finished
        assert fast.scores == pytest.approx(slow.scores, rel=1e-5, abs=1e-5)


@pytest.mark.parametrize(("cell", "condition_input", "tie_weights"), [("lstm", True, False), ("gru", False, True),
                                                                      ("lnlstm", True, False)])
def test_conditional_generator_step_equals_the_models_step(cell, condition_input, tie_weights):
    torch.manual_seed(5)
    config = ConditionalGeneratorConfig(cell=cell, embedding_size=6, hidden_size=8, num_layers=2, condition_size=4,
                                        dropout=0.0, condition_input=condition_input, tie_weights=tie_weights)
    model = ConditionalGenerator(10, config, num_classes=3, pad_id=0).eval()
    q = model.encode_condition(torch.tensor([0, 2, 1]))
    stepper = step_function(model)
    state, ours = model.initial_state(q), stepper.initial_state(q)
    tokens = torch.tensor([1, 1, 1])
    for _ in range(4):
        logits, state = model.step(tokens, q, state)
        our_logits, ours = stepper(tokens, ours, q)
        torch.testing.assert_close(our_logits, logits, rtol=1e-5, atol=1e-5)
        tokens = logits.argmax(1)
