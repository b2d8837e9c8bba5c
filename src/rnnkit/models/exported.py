"""The models as export sees them: plain tensors in, a tuple of tensors out, the recurrent state explicit.

Each wrapper holds a trained model (no weights of its own) and calls its parts in the order its ``forward`` does,
with two changes: the recurrent layers take the state as an input and give their final state as outputs (so a
client can feed a long sequence in pieces, passing each piece's state to the next), and the outputs are the ones
a client reads (probabilities after the softmax where the task's verbs report probabilities). Under
``torch.export`` the layers record one scan each (:mod:`rnnkit.nn.exportable`), so the same graph takes any batch
size, time axis and lengths.

State inputs and outputs, for a stack of L layers with D directions and H units: ``h (L*D, B, H)`` and, for LSTM
cells, ``c (L*D, B, H)``: zeros start a sequence.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..nn.attention import Memory
from .binding_classifier import BindingSiteClassifier
from .captioner import Captioner, EncodedImages
from .classifier import SequenceClassifier
from .classifier_ensemble import ClassifierEnsemble
from .condgen import ConditionalGenerator
from .forecaster import LOG_VARIANCE_RANGE, Forecaster
from .language_model import LanguageModel
from .seq2seq import Encoded, Seq2Seq
from .tagger import SequenceTagger

__all__ = [
    "ExportedCaptionEncoder", "ExportedCaptionStep", "ExportedClassifier", "ExportedConditionalStep",
    "ExportedForecaster", "ExportedLanguageModel", "ExportedSeq2SeqEncoder", "ExportedSeq2SeqStep", "ExportedTagger",
    "state_names",
]


def state_names(has_cell_state: bool, prefix: str = "") -> list[str]:
    """``["h"]`` or ``["h", "c"]``, with ``prefix`` (``"h_0"`` style names use a suffix instead)."""
    return [f"{prefix}h", f"{prefix}c"] if has_cell_state else [f"{prefix}h"]


def _state(parts: tuple[Tensor, ...]) -> Tensor | tuple[Tensor, Tensor]:
    return parts[0] if len(parts) == 1 else (parts[0], parts[1])


def _parts(state: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return tuple(state) if isinstance(state, tuple | list) else (state,)


class ExportedLanguageModel(nn.Module):
    """``(ids (B, T), lengths (B,), h_0[, c_0], h_1, ...) -> (logits (B, T, V), h_0[, c_0], ...)``, one state entry
    per layer: ``h_l (1, B, H_l)``. Logits past a sequence's end are the decoder bias only (as the model's)."""

    def __init__(self, model: LanguageModel) -> None:
        super().__init__()
        self.model = model.eval()
        self.per_layer = 2 if model.layers[0].has_cell_state else 1

    def forward(self, ids: Tensor, lengths: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        x = self.model.embedding(ids)  # (B, T, E)
        finals: list[Tensor] = []
        for index, layer in enumerate(self.model.layers):
            initial = _state(state[index * self.per_layer : (index + 1) * self.per_layer])
            x, final = layer(x, lengths=lengths, state=initial)  # (B, T, H_l)
            finals.extend(_parts(final))
        return (self.model.decoder(x), *finals)


class ExportedClassifier(nn.Module):
    """``(inputs, lengths (B,), h[, c]) -> (probabilities (B, C), h[, c])`` for a classifier on ids ``(B, T)`` or
    features ``(B, T, I)`` (and the DNA model's front-end). An ensemble takes no state: ``(inputs, lengths) ->
    (probabilities,)``, the mean of its members' probabilities."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.eval()
        self.ensemble = isinstance(model, ClassifierEnsemble)
        self.front = model if isinstance(model, BindingSiteClassifier) else None
        self.classifier: SequenceClassifier | None = None
        if not self.ensemble:
            self.classifier = model.classifier if self.front is not None else model

    @property
    def has_state(self) -> bool:
        return not self.ensemble

    @property
    def has_cell_state(self) -> bool:
        return self.classifier is not None and self.classifier.recurrent.has_cell_state

    def forward(self, inputs: Tensor, lengths: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        if self.ensemble:
            return (torch.softmax(self.model(inputs, lengths).float(), dim=1),)
        classifier = self.classifier
        if self.front is not None:
            x = self.front.features(inputs)  # (B, T, K or E)
            if self.front.conv is not None:
                pool = self.front.frontend_config.pool_size
                x = nn.functional.max_pool1d(torch.relu(self.front.conv(x.transpose(1, 2))), pool).transpose(1, 2)
                lengths = lengths // pool
        else:
            x = classifier._embed(inputs)  # (B, T, E or I)
        outputs, final = classifier.recurrent(x, lengths=lengths, state=_state(state))  # (B, T, D*H)
        logits = classifier.head(classifier.pool(outputs, final, lengths))  # (B, C)
        return (torch.softmax(logits.float(), dim=1), *_parts(final))


class ExportedTagger(nn.Module):
    """``(ids (B, T), lengths (B,)[, chars (B, T, W)][, h[, c]]) -> (logits (B, T, K)[, h[, c]])``: the tag scores
    of every token (argmax them, or run Viterbi with the sidecar's CRF transitions)."""

    def __init__(self, model: SequenceTagger) -> None:
        super().__init__()
        self.model = model.eval()

    @property
    def has_state(self) -> bool:
        return self.model.recurrent is not None

    @property
    def has_cell_state(self) -> bool:
        return self.has_state and self.model.recurrent.has_cell_state

    def forward(self, ids: Tensor, lengths: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
        model = self.model
        x = model.embedding(ids)  # (B, T, E)
        if model.chars is not None:
            chars, rest = rest[0], rest[1:]
            mask = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
            x = torch.cat([x, model.chars(chars, mask)], dim=2)  # (B, T, E+F)
        if model.recurrent is None:
            return (model.output(x),)
        outputs, final = model.recurrent(x, lengths=lengths, state=_state(rest))  # (B, T, D*H)
        return (model.output(outputs), *_parts(final))


class ExportedForecaster(nn.Module):
    """``(z (B, T, F), h[, c]) -> (mean, [log_variance,] h[, c])`` on normalised windows (the sidecar's scaler):
    direct ``(B, horizon, K)``, autoregressive ``(B, T, F)`` (position t predicts z_{t+1})."""

    def __init__(self, model: Forecaster) -> None:
        super().__init__()
        self.model = model.eval()
        self.has_cell_state = model.recurrent.has_cell_state

    def forward(self, z: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        model, config = self.model, self.model.config
        K = config.num_targets
        inputs = torch.cat([z[:, :, :K] - z[:, -1:, :K], z[:, :, K:]], dim=-1) if config.relative else z
        output, final = model.recurrent(inputs, state=_state(state))  # (B, T, H)
        if config.strategy == "direct":
            output = output[:, -1:]  # (B, 1, H)
        raw = model.head(output)
        if config.strategy == "direct":
            raw = raw.reshape(z.shape[0], config.horizon, -1)  # (B, horizon, P)
        per_step = config.outputs_per_step
        mean = raw[..., :per_step]
        if config.relative:
            level = z[:, -1:, :K] if config.strategy == "direct" else z[:, :, :K]
            mean = torch.cat([mean[..., :K] + level, mean[..., K:]], dim=-1)
        outputs = [mean]
        if config.gaussian:
            outputs.append(raw[..., per_step:].clamp(*LOG_VARIANCE_RANGE))
        return (*outputs, *_parts(final))


class ExportedSeq2SeqEncoder(nn.Module):
    """``(source (B, S), lengths (B,)) -> (memory (B, S, C), keys (B, S, K'), mask (B, S), h[, c])``: what every
    decoder step reads and the decoder's initial state ``(L, B, H)``. Without attention the memory is the fixed
    context ``(B, C)`` and there are no keys or mask: ``(context, h[, c])``."""

    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, source: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        encoded, state = self.model.encode(source, lengths)
        if encoded.memory is None:
            return (encoded.context, *_parts(state))
        memory = encoded.memory
        return (memory.values, memory.keys, memory.mask, *_parts(state))


class ExportedSeq2SeqStep(nn.Module):
    """One decoder step: ``(tokens (N,), h[, c], memory, keys, mask) -> (log_probs (N, V), h[, c], weights (N, S))``
    (without attention: ``(tokens, h[, c], context) -> (log_probs, h[, c])``). ``log_probs`` is the log-softmax of
    the logits, as beam search adds them."""

    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.model = model.eval()
        self.state_parts = 2 if model.config.cell == "lstm" else 1

    def forward(self, tokens: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
        state, memory = _state(rest[: self.state_parts]), rest[self.state_parts :]
        attention = self.model.attention
        if attention is None:
            encoded = Encoded(None, memory[0], tokens)
        else:
            encoded = Encoded(Memory(*memory), None, tokens)
        features, state, weights = self.model.step(tokens, state, encoded)
        log_probs = torch.log_softmax(self.model.logits(features).float(), dim=-1)  # (N, V)
        return (log_probs, *_parts(state), *(() if weights is None else (weights,)))


class ExportedConditionalStep(nn.Module):
    """The conditional generator: ``initial`` mode ``(condition) -> (q (B, C), h[, c])``; ``step`` mode
    ``(tokens (N, T), lengths (N,), q, h[, c]) -> (logits (N, T, V), h[, c])`` (teacher-forced over T tokens, T = 1
    for one generation step)."""

    def __init__(self, model: ConditionalGenerator, initial: bool) -> None:
        super().__init__()
        self.model = model.eval()
        self.initial = initial

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        model = self.model
        if self.initial:
            q = model.encode_condition(inputs[0])  # (B, C)
            return (q, *_parts(model.initial_state(q)))
        tokens, lengths, q, *state = inputs
        outputs, final = model.decoder(model._inputs(tokens, q), lengths=lengths, state=_state(tuple(state)))
        return (model.logits(outputs), *_parts(final))


class ExportedCaptionEncoder(nn.Module):
    """``(images (B, 3, S, S)) -> (grid (B, L, D)[, keys (B, L, A)], h, c)``: normalised images (the sidecar's mean
    and std) to the feature grid, the attention keys, and the decoder's initial state ``(1, B, H)``."""

    def __init__(self, model: Captioner) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        encoded, (h, c) = self.model.encode(images)
        keys = () if encoded.memory is None else (encoded.memory.keys,)
        return (encoded.grid, *keys, h, c)


class ExportedCaptionStep(nn.Module):
    """One decoder step: ``(tokens (N,), h, c, grid[, keys]) -> (log_probs (N, V), h_out, c_out[, weights (N, L)])``."""

    def __init__(self, model: Captioner) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, tokens: Tensor, h: Tensor, c: Tensor, grid: Tensor, *keys: Tensor) -> tuple[Tensor, ...]:
        memory = None
        if self.model.attention is not None:
            mask = torch.ones(grid.shape[:2], dtype=torch.bool, device=grid.device)  # every grid cell is real
            memory = Memory(grid, keys[0], mask)
        encoded = EncodedImages(grid, memory, tokens)
        features, (h, c), weights = self.model.step(tokens, (h, c), encoded)
        log_probs = torch.log_softmax(self.model.logits(features).float(), dim=-1)  # (N, V)
        return (log_probs, h, c, *(() if weights is None else (weights,)))
