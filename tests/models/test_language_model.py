"""LanguageModel: shapes, weight tying, overfitting a tiny corpus, backends, state carrying, dropout, errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.models.language_model import CELLS

VOCAB = 20
TINY = dict(embedding_size=8, hidden_size=12, num_layers=2, dropout=0.0)


def make_model(seed: int = 0, vocab_size: int = VOCAB, pad_id=None, **options) -> LanguageModel:
    torch.manual_seed(seed)
    return LanguageModel(vocab_size, LanguageModelConfig(**{**TINY, **options}), pad_id=pad_id)


def random_ids(batch: int = 3, steps: int = 7, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, steps), generator=torch.Generator().manual_seed(seed))


def flat(state) -> list[torch.Tensor]:
    return [t for entry in state for t in (entry if isinstance(entry, tuple) else (entry,))]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("tie_weights", [False, True])
def test_shapes_for_every_cell(cell, tie_weights):
    model = make_model(cell=cell, tie_weights=tie_weights)
    logits, state = model(random_ids())
    assert logits.shape == (3, 7, VOCAB)
    assert len(state) == 2
    sizes = [12, 8 if tie_weights else 12]
    expected = model.initial_state(3)
    for entry, zeros, size in zip(state, expected, sizes, strict=True):
        assert type(entry) is type(zeros)
        for part, zero in zip(flat([entry]), flat([zeros]), strict=True):
            assert part.shape == zero.shape == (1, 3, size)
            assert not zero.any()
    logits_again, _ = model(random_ids(), state=model.initial_state(3))
    assert torch.equal(logits, logits_again)


def test_tie_weights_shares_the_parameter_and_state_dict_loads_back():
    model = make_model(tie_weights=True, num_layers=1)
    assert model.decoder.weight is model.embedding.weight
    assert sum(p is model.embedding.weight for p in model.parameters()) == 1
    copy = make_model(seed=1, tie_weights=True, num_layers=1)
    copy.load_state_dict(model.state_dict())
    assert copy.decoder.weight is copy.embedding.weight
    ids = random_ids()
    assert torch.equal(model.eval()(ids)[0], copy.eval()(ids)[0])


def test_initialisation_and_padding_row():
    model = make_model(pad_id=0)
    assert model.embedding.weight.abs().max() <= 0.1 and model.decoder.weight.abs().max() <= 0.1
    assert not model.decoder.bias.any()
    assert not model.embedding.weight[0].any()


@pytest.mark.parametrize("cell", ["lstm", "gru", "lnlstm"])
def test_tiny_model_overfits_a_tiny_corpus(cell):
    text = "abcabcabdabcabcabd" * 2
    alphabet = sorted(set(text))
    ids = torch.tensor([[alphabet.index(ch) for ch in text]])  # (1, T)
    torch.manual_seed(0)
    config = LanguageModelConfig(cell=cell, embedding_size=32, hidden_size=32, num_layers=1, dropout=0.0)
    model = LanguageModel(len(alphabet), config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        logits, _ = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, len(alphabet)), ids[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < 0.05:
            break
    assert loss.item() < 0.1


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_explicit_and_fused_backends_agree(cell):
    explicit = make_model(cell=cell, backend="explicit", dropout=0.3, weight_dropout=0.3).eval()
    fused = make_model(seed=5, cell=cell, backend="fused", dropout=0.3, weight_dropout=0.3).eval()
    fused.load_state_dict(explicit.state_dict())
    ids = random_ids()
    expected_logits, expected_state = explicit(ids)
    logits, state = fused(ids)
    torch.testing.assert_close(logits, expected_logits, rtol=1e-5, atol=1e-6)
    for part, expected in zip(flat(state), flat(expected_state), strict=True):
        torch.testing.assert_close(part, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", CELLS)
def test_carrying_state_equals_running_the_whole_sequence(cell):
    model = make_model(cell=cell).eval()
    ids = random_ids(steps=10)
    whole, whole_state = model(ids)
    first, state = model(ids[:, :4])
    second, final_state = model(ids[:, 4:], state=LanguageModel.detach_state(state))
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, rtol=1e-5, atol=1e-6)
    for part, expected in zip(flat(final_state), flat(whole_state), strict=True):
        torch.testing.assert_close(part, expected, rtol=1e-5, atol=1e-6)


def test_detach_state_cuts_the_graph():
    model = make_model(cell="lstm")
    _, state = model(random_ids())
    assert all(t.requires_grad for t in flat(state))
    detached = LanguageModel.detach_state(state)
    assert isinstance(detached, list) and isinstance(detached[0], tuple)
    assert not any(t.requires_grad for t in flat(detached))


def test_dropout_is_active_in_training_only():
    rates = dict(dropout=0.3, embedding_dropout=0.2, input_dropout=0.2, hidden_dropout=0.2, weight_dropout=0.3)
    model = make_model(**rates)
    ids = random_ids()
    model.eval()
    assert torch.equal(model(ids)[0], model(ids)[0])
    model.train()
    assert not torch.equal(model(ids)[0], model(ids)[0])


@pytest.mark.parametrize("option", ["dropout", "embedding_dropout", "input_dropout", "hidden_dropout",
                                    "weight_dropout"])
def test_each_dropout_option_acts_in_training(option):
    model = make_model(**{option: 0.5}).train()
    ids = random_ids()
    assert not torch.equal(model(ids)[0], model(ids)[0])


@pytest.mark.parametrize("cell", ["gru", "lnlstm"])
def test_padding_does_not_change_real_positions(cell):
    model = make_model(cell=cell, pad_id=0).eval()
    lengths = torch.tensor([7, 3, 5])
    ids = random_ids().clamp_min(1)
    padded = torch.arange(7) >= lengths[:, None]  # (B, T)
    logits_a, state_a = model(ids.masked_fill(padded, 0), lengths=lengths)
    logits_b, state_b = model(torch.where(padded, random_ids(seed=9), ids), lengths=lengths)
    for row, length in enumerate(lengths.tolist()):
        alone, _ = model(ids[row : row + 1, :length])
        torch.testing.assert_close(logits_a[row, :length], alone[0], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(logits_b[row, :length], alone[0], rtol=1e-5, atol=1e-6)
    for part_a, part_b in zip(flat(state_a), flat(state_b), strict=True):
        torch.testing.assert_close(part_a, part_b)


def test_id_errors():
    model = make_model()
    with pytest.raises(ValueError, match=r"^ids: got a torch.float32 tensor; expected integer token ids$"):
        model(random_ids().float())
    with pytest.raises(ValueError, match=r"ids: got token id 20; expected ids in \[0, 20\)"):
        model(torch.tensor([[1, 20, 3]]))
    with pytest.raises(ValueError, match=r"ids: got token id -1"):
        model(torch.tensor([[1, -1, 3]]))
    with pytest.raises(ValueError, match=r"ids: got shape \(3,\)"):
        model(torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"state: got 1 entries; expected a list with one entry per layer \(2\)"):
        model(random_ids(), state=model.initial_state(3)[:1])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cell", "transformer", r"cell: got 'transformer'; expected one of"),
        ("hidden_size", 0, r"hidden_size: got 0; expected a positive integer"),
        ("num_layers", 1.5, r"num_layers: got 1.5; expected a positive integer"),
        ("embedding_size", True, r"embedding_size: got True"),
        ("dropout", 1.0, r"dropout: got 1.0; expected a probability in \[0, 1\)"),
        ("weight_dropout", -0.1, r"weight_dropout: got -0.1"),
        ("hidden_dropout", "0.2", r"hidden_dropout: got '0.2'"),
        ("tie_weights", 1, r"tie_weights: got 1; expected True or False"),
        ("backend", "cuda", r"backend: got 'cuda'; expected one of"),
    ],
)
def test_config_errors(field, value, message):
    with pytest.raises(ValueError, match=message):
        LanguageModelConfig(**{field: value})


def test_config_round_trip_and_other_errors():
    config = LanguageModelConfig(cell="gru", tie_weights=True)
    assert LanguageModelConfig.from_dict(config.to_dict()) == config
    assert config.layer_sizes == [256, 128]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.cell = "rnn"
    with pytest.raises(ValueError, match=r"unknown keys \['hiden_size'\]; valid keys are"):
        LanguageModelConfig.from_dict({"hiden_size": 3})
    with pytest.raises(ValueError, match=r"backend: got 'fused' with cell 'lnlstm'"):
        LanguageModelConfig(cell="lnlstm", backend="fused")
    with pytest.raises(ValueError, match=r"vocab_size: got 0"):
        LanguageModel(0, config)
    with pytest.raises(ValueError, match=r"pad_id: got 5; expected None or an id in \[0, 5\)"):
        LanguageModel(5, config, pad_id=5)
