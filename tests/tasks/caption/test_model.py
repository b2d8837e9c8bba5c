"""The captioner against a written-out reference: per-step loss (and gradients) on a padded batch of captions, with
and without attention, both LSTM backends; attention weights sum to 1 over the grid; beam size 1 is greedy."""

from __future__ import annotations

import pytest
import torch

from rnnkit.decode.beam import beam_search, greedy_search
from rnnkit.models.captioner import Captioner, CaptionerConfig, caption_loss
from rnnkit.tasks.caption.search import _ImageSearch, search_captions

V, PAD = 11, 0


def _model(attention: bool, backend: str = "auto", dtype=torch.float64) -> Captioner:
    torch.manual_seed(0)
    config = CaptionerConfig(encoder_width=4, encoder_blocks=2, feature_size=6, embedding_size=5, hidden_size=7,
                             attention=attention, attention_size=3, dropout=0.0, backend=backend,
                             doubly_stochastic=0.7)
    return Captioner(V, config, pad_id=PAD).to(dtype)


def _batch():
    """Two images; three captions of lengths 4, 2 and 3 (caption 2 belongs to image 0), padded to 4."""
    torch.manual_seed(1)
    images = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    targets = torch.tensor([[3, 4, 5, 2], [6, 2, PAD, PAD], [7, 8, 2, PAD]])  # 2 plays <eos>, 1 <bos>
    inputs = torch.tensor([[1, 3, 4, 5], [1, 6, PAD, PAD], [1, 7, 8, PAD]])
    return images, inputs, targets, torch.tensor([0, 1, 0])


def _reference_loss(model: Captioner, images, inputs, targets, owner) -> torch.Tensor:
    """The loss written out caption by caption, step by step: no padding anywhere, the equations by hand."""
    grid = model.encoder(images)  # (B, L, D): the encoder is checked by the rest of this loss only
    w_ih, w_hh = model.decoder.weight_ih_l0, model.decoder.weight_hh_l0
    b = model.decoder.bias_ih_l0 + model.decoder.bias_hh_l0
    total = torch.zeros((), dtype=torch.float64)
    for n in range(inputs.shape[0]):
        a = grid[owner[n]]  # (L, D)
        h = torch.tanh(model.init_h.weight @ a.mean(0) + model.init_h.bias)
        c = torch.tanh(model.init_c.weight @ a.mean(0) + model.init_c.bias)
        length = int((targets[n] != PAD).sum())
        attended = torch.zeros(a.shape[0], dtype=torch.float64)
        for t in range(length):
            x = model.embedding.weight[inputs[n, t]]
            if model.attention is not None:
                attention = model.attention
                e = torch.stack([attention.score.weight[0] @ torch.tanh(
                    attention.key_projection.weight @ a[i] + attention.key_projection.bias
                    + attention.query_projection.weight @ h) for i in range(a.shape[0])])
                alpha = torch.exp(e) / torch.exp(e).sum()
                attended = attended + alpha
                beta = torch.sigmoid(model.gate.weight @ h + model.gate.bias)
                x = torch.cat([x, beta * (alpha @ a)])
            z = w_ih @ x + w_hh @ h + b
            i, f, g, o = z.chunk(4)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            logits = model.output.weight @ h + model.output.bias
            total = total - torch.log_softmax(logits, 0)[targets[n, t]]
        if model.attention is not None:
            total = total + model.config.doubly_stochastic * ((1 - attended) ** 2).sum()
    return total


@pytest.mark.parametrize("attention", [False, True])
@pytest.mark.parametrize("backend", ["fused", "explicit"])
def test_per_step_loss_and_gradients_equal_the_written_out_reference(attention, backend):
    model = _model(attention, backend)
    images, inputs, targets, owner = _batch()
    logits, weights = model(images, inputs, owner)
    loss = caption_loss(logits, weights, targets, PAD, model.config.doubly_stochastic)
    expected = _reference_loss(model, images, inputs, targets, owner)
    assert torch.allclose(loss, expected, rtol=1e-10, atol=1e-10), (loss, expected)
    parameters = [p for p in model.parameters() if p.requires_grad]
    ours = torch.autograd.grad(loss, parameters, allow_unused=True)
    theirs = torch.autograd.grad(expected, parameters, allow_unused=True)
    for parameter, mine, reference in zip(parameters, ours, theirs, strict=True):
        if reference is None:  # the padding embedding row: neither touches it
            continue
        assert torch.allclose(mine, reference, rtol=1e-8, atol=1e-10), parameter.shape


def test_padding_does_not_change_a_captions_loss():
    model = _model(True)
    images, inputs, targets, owner = _batch()
    logits, weights = model(images, inputs, owner)
    padded = caption_loss(logits[1:2], weights[1:2], targets[1:2], PAD, 0.7)
    logits, weights = model(images, inputs[1:2, :2], owner[1:2])
    assert torch.allclose(padded, caption_loss(logits, weights, targets[1:2, :2], PAD, 0.7), rtol=1e-12)


def test_attention_weights_sum_to_one_over_the_grid():
    model = _model(True)
    images, inputs, _, owner = _batch()
    _, weights = model(images, inputs, owner)
    assert weights.shape == (3, 4, 16)  # (N, T, L): 16x16 images, 2 blocks -> a 4x4 grid
    assert torch.allclose(weights.sum(-1), torch.ones(3, 4, dtype=torch.float64), atol=1e-12)
    assert bool((weights > 0).all())


@pytest.mark.parametrize("attention", [False, True])
def test_beam_size_one_is_greedy(attention):
    model = _model(attention, dtype=torch.float32).eval()
    torch.manual_seed(3)
    images = torch.randn(6, 3, 16, 16)
    lengths = torch.zeros(6, dtype=torch.long)
    options = dict(max_length_ratio=0.0, max_length_offset=9, banned=(PAD, 1))
    greedy = greedy_search(_ImageSearch(model), images, lengths, 1, 2, **options)
    beam = beam_search(_ImageSearch(model), images, lengths, 1, 2, beam_size=1, length_penalty=0.0, **options)
    assert greedy.tokens == beam.tokens
    assert any(len(tokens) > 1 for tokens in greedy.tokens)  # an untrained model: long captions, no early <eos>
    assert torch.allclose(torch.tensor(greedy.scores), torch.tensor(beam.scores), atol=1e-5)
    assert search_captions(model, images, 1, 2, 9, beam_size=1, banned=(PAD, 1)).tokens == greedy.tokens
    wider = search_captions(model, images, 1, 2, 9, beam_size=4, banned=(PAD, 1))
    assert len(wider.tokens) == 6 and all(1 not in tokens and PAD not in tokens for tokens in wider.tokens)


def test_the_decoder_state_starts_from_the_mean_image_feature():
    model = _model(False)
    images, *_ = _batch()
    encoded, (h, c) = model.encode(images)
    mean = encoded.grid.mean(1)
    assert torch.allclose(h[0], torch.tanh(model.init_h(mean))) and torch.allclose(c[0], torch.tanh(model.init_c(mean)))
    other = images.clone()
    other[1] = torch.randn(3, 16, 16, dtype=torch.float64)
    assert not torch.allclose(model.encode(other)[1][0][0, 1], h[0, 1])  # each image its own state
    assert torch.allclose(model.encode(other)[1][0][0, 0], h[0, 0])


def test_settings_out_of_range_are_one_line_errors():
    for keywords, needle in (({"hidden_size": 0}, "hidden_size"), ({"doubly_stochastic": -1.0}, "doubly_stochastic"),
                             ({"dropout": 1.0}, "dropout"), ({"backend": "magic"}, "backend")):
        with pytest.raises(ValueError, match=needle) as error:
            CaptionerConfig(**keywords)
        assert "\n" not in str(error.value)
