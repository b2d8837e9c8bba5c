"""Seq2Seq: padding never changes a sentence's outputs, the fused and explicit decoders agree (values and
gradients), teacher forcing and scheduled sampling do what they say, and tiny copy / reverse tasks are learned
to 100% exact match (with attention and with the context vector alone)."""

from __future__ import annotations

import pytest
import torch

from rnnkit.decode.beam import greedy_search
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig, sequence_loss

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SYMBOLS = list(range(4, 12))  # 8 symbols
MODES = ["none", "additive", "dot", "general"]


def _config(attention: str, **overrides) -> Seq2SeqConfig:
    options = dict(cell="gru", embedding_size=8, hidden_size=6, num_layers=1, bidirectional=attention != "dot",
                   attention=attention, dropout=0.0)
    return Seq2SeqConfig(**{**options, **overrides})


def _batch(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    source = torch.randint(4, 12, (3, 6), generator=generator)
    lengths = torch.tensor([6, 2, 4])
    source[torch.arange(6) >= lengths.unsqueeze(1)] = PAD
    targets = torch.randint(4, 12, (3, 5), generator=generator)
    return source, lengths, targets


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
@pytest.mark.parametrize("attention", MODES)
def test_padding_does_not_change_a_sentences_outputs(cell, attention):
    torch.manual_seed(0)
    model = Seq2Seq(12, 12, _config(attention, cell=cell, num_layers=2)).eval()
    source, lengths, targets = _batch()
    logits, weights = model(source, lengths, targets)
    for row in range(3):
        alone = source[row : row + 1, : int(lengths[row])]  # the sentence without any padding
        single_logits, single_weights = model(alone, lengths[row : row + 1], targets[row : row + 1])
        torch.testing.assert_close(logits[row : row + 1], single_logits, rtol=1e-5, atol=1e-5)
        if attention != "none":
            torch.testing.assert_close(weights[row : row + 1, :, : int(lengths[row])], single_weights)
            assert torch.all(weights[row, :, int(lengths[row]) :] == 0)
            torch.testing.assert_close(weights[row].sum(dim=1), torch.ones(5))
        else:
            assert weights is None
    # padding with other ids (and more of it) changes nothing either
    wider = torch.cat([source, torch.full((3, 3), PAD)], dim=1)
    wider[torch.arange(9) >= lengths.unsqueeze(1)] = 7
    torch.testing.assert_close(model(wider, lengths, targets)[0], logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("attention", ["none", "additive"])
def test_fused_and_explicit_decoders_agree_in_values_and_gradients(cell, attention):
    results = []
    for backend in ("fused", "explicit"):
        torch.manual_seed(0)
        model = Seq2Seq(12, 12, _config(attention, cell=cell, num_layers=2, backend=backend))
        source, lengths, targets = _batch(1)
        logits, _ = model(source, lengths, targets)
        loss = sequence_loss(logits, targets, PAD)
        loss.backward()
        results.append((logits.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-5, atol=1e-5)
    for name, gradient in results[0][1].items():
        torch.testing.assert_close(gradient, results[1][1][name], rtol=1e-4, atol=1e-5, msg=name)


def test_teacher_forcing_ratio():
    torch.manual_seed(0)
    model = Seq2Seq(12, 12, _config("additive")).train()  # dropout 0: training mode is deterministic
    source, lengths, targets = _batch(2)
    forced, _ = model(source, lengths, targets, teacher_forcing=1.0)
    # ratio 1 reads the true tokens, as eval mode always does
    torch.testing.assert_close(forced, model.eval()(source, lengths, targets, teacher_forcing=0.0)[0])
    model.train()
    free, _ = model(source, lengths, targets, teacher_forcing=0.0)
    # ratio 0 feeds back the model's own argmax: the same as decoding greedily from it
    own = torch.cat([targets[:, :1], free[:, :-1].argmax(dim=2)], dim=1)
    torch.testing.assert_close(free, model(source, lengths, own, teacher_forcing=1.0)[0])
    assert not torch.allclose(free, forced)
    generator = torch.Generator().manual_seed(3)
    mixed, _ = model(source, lengths, targets, teacher_forcing=0.5, generator=generator)
    mixed.sum().backward()  # scheduled sampling trains: gradients flow through every step
    assert model.output.weight.grad is not None


def test_config_errors():
    with pytest.raises(ValueError, match="attention: got 'bahdanau'"):
        Seq2SeqConfig(attention="bahdanau")
    with pytest.raises(ValueError, match="attention 'dot'.*bidirectional"):
        Seq2SeqConfig(attention="dot", bidirectional=True)
    with pytest.raises(ValueError, match="cell: got 'lnlstm'"):
        Seq2SeqConfig(cell="lnlstm")


def _task_data(count: int, reverse: bool, generator: torch.Generator):
    lengths = torch.randint(2, 6, (count,), generator=generator)
    source = torch.randint(4, 12, (count, 5), generator=generator)
    source[torch.arange(5) >= lengths.unsqueeze(1)] = PAD
    outputs = torch.full((count, 6), PAD)
    for row, length in enumerate(lengths.tolist()):
        sequence = source[row, :length].flip(0) if reverse else source[row, :length]
        outputs[row, :length] = sequence
        outputs[row, length] = EOS
    inputs = torch.cat([torch.full((count, 1), BOS), outputs[:, :-1]], dim=1)
    inputs[inputs == EOS] = PAD
    return source, lengths, inputs, outputs


@pytest.mark.parametrize("task,attention", [
    ("copy", "additive"), ("reverse", "general"),
    pytest.param("copy", "none", marks=pytest.mark.slow),  # the fixed context vector: ~30 s on a busy machine
])
def test_learns_copy_and_reverse_to_exact_match(task, attention):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = Seq2Seq(12, 12, Seq2SeqConfig(cell="gru", embedding_size=16, hidden_size=64, attention=attention,
                                          dropout=0.0))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(350):
        if step == 250:  # a lower rate to settle
            optimizer.param_groups[0]["lr"] = 2e-3
        source, lengths, inputs, outputs = _task_data(64, task == "reverse", generator)
        logits, _ = model(source, lengths, inputs)
        loss = sequence_loss(logits, outputs, PAD) / (outputs != PAD).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    source, lengths, _, outputs = _task_data(200, task == "reverse", torch.Generator().manual_seed(99))
    decoded = greedy_search(model, source, lengths, BOS, EOS, banned=(PAD, BOS))
    expected = [row[: int(length)].tolist() for row, length in zip(outputs, lengths, strict=True)]
    exact = sum(got == want for got, want in zip(decoded.tokens, expected, strict=True))
    assert exact == 200, f"{task}/{attention}: {exact}/200 exact after training, last loss {loss.detach().item():.4f}"
