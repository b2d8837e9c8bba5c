r"""Step functions: one decoding step of a trained model, running its cells directly.

A model's ``forward`` is written for training: it checks its inputs, calls a whole layer (a fused kernel) on a
sequence, and reads values back to the host to check them. Decoding calls it once per token, at batch 1 often, and
then that overhead is most of the time. A step function does the same arithmetic as the model in eval mode, with
the weights looked up once when it is built and nothing else per step: no validation, no host sync, each textbook
cell as torch's one-step kernel (``torch.lstm_cell``, ``gru_cell``, ``rnn_tanh_cell``: two matrix products and the
gates in one call), any other cell through its own ``input_projection`` and ``step``::

    stepper = step_function(model)                 # once: weights prepared, options checked
    state = stepper.initial_state(batch_size)      # or stepper.prefill(prompt ids, lengths) for a prompt
    logits, state = stepper(tokens, state)         # per token: tokens (B,) -> logits (B, V), the new state

At batch 1 each step reads every weight once, so tokens/s is at most the memory read bandwidth divided by the
bytes of the weights; the step function aims at that limit by adding nothing around the kernels.

The state a step function carries is a list with one entry per cell (layer), each ``h (B, H)`` or ``(h, c)``;
``to_model_state`` / ``from_model_state`` convert to and from the model's own layout. Dropout is off (eval mode):
a step function is for inference, built after the model is moved to its device and dtype (it keeps references to
the weights as they are then; weights changed in place later are seen, weights replaced are not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.condgen import ConditionalGenerator
from ..models.language_model import LanguageModel
from ..models.seq2seq import Encoded, Seq2Seq
from ..nn.cells import ElmanCell, GRUCell, LSTMCell
from ..nn.recurrent import Recurrent

CellState = Tensor | tuple[Tensor, Tensor]  # h (B, H), or (h, c) for cells with a cell state
CellStep = Callable[[Tensor, CellState], tuple[Tensor, CellState]]  # (x (B, I), state) -> (h (B, H), state)

__all__ = ["CellState", "CellStep", "ConditionalGeneratorStep", "LanguageModelStep", "Seq2SeqStep", "cell_step",
           "layer_steps", "step_function"]


def cell_step(cell: nn.Module) -> CellStep:
    """One time step of ``cell``, ``(x (B, I), state) -> (h (B, H), new state)``, with its weights looked up once.

    The textbook cells (rnnkit's, or torch's ``nn.*Cell``) run as torch's one-step kernels; any other cell runs its
    own ``step(input_projection(x), state)``.
    """
    if type(cell) in (LSTMCell, nn.LSTMCell):
        weights = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)

        def lstm(x: Tensor, state: CellState) -> tuple[Tensor, CellState]:
            h, c = torch.lstm_cell(x, state, *weights)
            return h, (h, c)
        return lstm
    kernel = _one_step_kernel(cell)
    if kernel is not None:
        weights = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
        def plain(x: Tensor, state: CellState) -> tuple[Tensor, CellState]:
            h = kernel(x, state, *weights)
            return h, h
        return plain

    def generic(x: Tensor, state: CellState) -> tuple[Tensor, CellState]:
        return cell.step(cell.input_projection(x), state)
    return generic


def _one_step_kernel(cell: nn.Module) -> Callable[..., Tensor] | None:
    if type(cell) in (GRUCell, nn.GRUCell):
        return torch.gru_cell
    if type(cell) in (ElmanCell, nn.RNNCell):
        return torch.rnn_tanh_cell if cell.nonlinearity == "tanh" else torch.rnn_relu_cell
    return None


def layer_steps(layer: Recurrent) -> list[CellStep]:
    """The step of each layer of a unidirectional :class:`~rnnkit.nn.Recurrent` stack, bottom first."""
    if layer.num_directions != 1:
        raise ValueError("layer: got a bidirectional layer; expected a unidirectional one (a reverse direction "
                         "needs the whole sequence, so it cannot be stepped token by token)")
    return [cell_step(cell) for cell in layer.cells]


def _check_eval(model: nn.Module) -> None:
    if model.training:
        raise ValueError(f"model: got a {type(model).__name__} in training mode; expected eval mode "
                         "(call model.eval(): a step function decodes without dropout)")


def _masked_bias(linear: nn.Linear, banned: Sequence[int]) -> Tensor | None:
    """The output bias with ``-inf`` at the banned ids: those tokens get no probability at no cost per step."""
    if not banned:
        return linear.bias
    bias = torch.zeros(linear.out_features, device=linear.weight.device, dtype=linear.weight.dtype) \
        if linear.bias is None else linear.bias.detach().clone()
    bias[list(banned)] = float("-inf")
    return bias


def _run_cells(steps: Sequence[CellStep], x: Tensor, state: Sequence[CellState]) -> tuple[Tensor, list[CellState]]:
    new_state = []
    for step, cell_state in zip(steps, state, strict=True):
        x, cell_state = step(x, cell_state)
        new_state.append(cell_state)
    return x, new_state


def _split_layers(state: Tensor | tuple[Tensor, Tensor]) -> list[CellState]:
    """``h (L, B, H)`` or ``(h, c)`` -> one ``(B, H)`` entry (or pair) per layer."""
    if isinstance(state, tuple | list):
        return list(zip(state[0].unbind(0), state[1].unbind(0), strict=True))
    return list(state.unbind(0))


def _stack_layers(state: Sequence[CellState]) -> Tensor | tuple[Tensor, Tensor]:
    if isinstance(state[0], tuple):
        return torch.stack([h for h, _ in state]), torch.stack([c for _, c in state])
    return torch.stack(list(state))


def select_cell_state(state: Sequence[CellState], index: Tensor) -> list[CellState]:
    """Rows ``index`` of every entry of a step function's state (beam search reorders its hypotheses so)."""
    return [tuple(part.index_select(0, index) for part in entry) if isinstance(entry, tuple)
            else entry.index_select(0, index) for entry in state]


class LanguageModelStep:
    r"""One step of a :class:`~rnnkit.models.LanguageModel`: ``logits = W_d h^{(L)}_t + b_d`` from token ids.

    Args:
        model: the language model, in eval mode, on the device and in the dtype it will run in.
        banned: token ids never to produce (``<pad>``, ``<unk>``): their output bias is ``-inf``.

    Call: ``stepper(tokens (B,), state) -> (logits (B, V), state)``.
    """

    def __init__(self, model: LanguageModel, banned: Sequence[int] = ()) -> None:
        _check_eval(model)
        self.model = model
        self.steps = [step for layer in model.layers for step in layer_steps(layer)]
        self.embedding = model.embedding.weight  # (V, E)
        self.decoder_weight, self.decoder_bias = model.decoder.weight, _masked_bias(model.decoder, banned)
        self.banned = list(banned)

    def __call__(self, tokens: Tensor, state: Sequence[CellState]) -> tuple[Tensor, list[CellState]]:
        x = F.embedding(tokens, self.embedding)  # (B, E)
        x, state = _run_cells(self.steps, x, state)  # (B, H_L)
        return F.linear(x, self.decoder_weight, self.decoder_bias), state  # (B, V)

    def initial_state(self, batch_size: int) -> list[CellState]:
        """Zero state for ``batch_size`` sequences."""
        return self.from_model_state(self.model.initial_state(batch_size))

    @staticmethod
    def from_model_state(state: Sequence[Tensor | tuple[Tensor, Tensor]]) -> list[CellState]:
        """The model's state (per layer ``h (1, B, H)`` or ``(h, c)``) in the step function's layout."""
        return [tuple(part[0] for part in entry) if isinstance(entry, tuple | list) else entry[0]
                for entry in state]

    @staticmethod
    def to_model_state(state: Sequence[CellState]) -> list[Tensor | tuple[Tensor, Tensor]]:
        """The step function's state in the model's layout (to go on with ``model(ids, state)``)."""
        return [tuple(part.unsqueeze(0) for part in entry) if isinstance(entry, tuple) else entry.unsqueeze(0)
                for entry in state]

    def prefill(self, ids: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, list[CellState]]:
        """Read prompts ``ids (B, T)`` (padded past ``lengths (B,)``, a CPU tensor); return the logits of the token
        after each prompt's last real token ``(B, V)`` and the state there.

        Short prompts (up to ``stepped_prefill_limit`` tokens) go through the step function: a fused layer's call
        costs a fixed ~2 ms (oneDNN's set-up), more than stepping a few tokens. Longer ones go through the model's
        whole-sequence layers, whose input projection is one matrix product for all tokens.
        """
        if ids.shape[1] > self.stepped_prefill_limit:
            logits, state = self.model(ids, lengths=lengths)  # (B, T, V)
            if lengths is None:
                last = logits[:, -1]
            else:
                last = logits[torch.arange(ids.shape[0], device=ids.device), lengths.to(ids.device) - 1]  # (B, V)
            if self.banned:
                last = last.clone()
                last[:, self.banned] = float("-inf")
            return last, self.from_model_state(state)
        state = self.initial_state(ids.shape[0])
        embedded = F.embedding(ids, self.embedding).unbind(1)  # T x (B, E)
        ragged_from = ids.shape[1] if lengths is None else int(lengths.min())
        keep_going = None if lengths is None else (torch.arange(ids.shape[1]).unsqueeze(1) < lengths).to(ids.device)
        top = None  # (B, H_L): the last layer's output at each prompt's last real token
        for t, x in enumerate(embedded):
            x, new_state = _run_cells(self.steps, x, state)
            if t >= ragged_from:  # prompts that have ended keep their state and output
                real = keep_going[t].unsqueeze(1)  # (B, 1)
                new_state = [tuple(torch.where(real, n, o) for n, o in zip(new, old, strict=True))
                             if isinstance(new, tuple) else torch.where(real, new, old)
                             for new, old in zip(new_state, state, strict=True)]
                x = torch.where(real, x, top)
            state, top = new_state, x
        return F.linear(top, self.decoder_weight, self.decoder_bias), state

    stepped_prefill_limit = 16


class Seq2SeqStep:
    r"""One decoder step of a :class:`~rnnkit.models.Seq2Seq`: attention (if any), the stacked cells, the logits.

    Call: ``stepper(tokens (N,), state, encoded) -> (logits (N, V), state, attention weights (N, S) or None)``,
    the state in the step function's layout (``from_model_state`` of :meth:`Seq2Seq.encode`'s).
    """

    def __init__(self, model: Seq2Seq, banned: Sequence[int] = ()) -> None:
        _check_eval(model)
        self.model = model
        self.steps = layer_steps(model.decoder)
        self.embedding = model.target_embedding.weight  # (V, E)
        self.attention = model.attention
        self.output_weight, self.output_bias = model.output.weight, _masked_bias(model.output, banned)

    def __call__(self, tokens: Tensor, state: Sequence[CellState], encoded: Encoded
                 ) -> tuple[Tensor, list[CellState], Tensor | None]:
        embedded = F.embedding(tokens, self.embedding)  # e_t: (N, E)
        top = state[-1]
        top = top[0] if isinstance(top, tuple) else top  # s_{t-1}: (N, H)
        if self.attention is None:
            context, weights = encoded.context, None  # (N, C)
        else:
            context, weights = self.attention(top, encoded.memory)  # (N, C), (N, S)
        output, state = _run_cells(self.steps, torch.cat([embedded, context], dim=1), state)  # (N, H)
        features = torch.cat([output, context, embedded], dim=1)  # [s_t; c_t; e_t]
        return F.linear(features, self.output_weight, self.output_bias), state, weights  # (N, V)

    from_model_state = staticmethod(_split_layers)
    to_model_state = staticmethod(_stack_layers)
    select = staticmethod(select_cell_state)


class ConditionalGeneratorStep:
    r"""One decoding step of a :class:`~rnnkit.models.ConditionalGenerator` under condition vectors ``q (N, C)``.

    With ``condition_input`` every step's input is ``[e_t; q]``, as in the model's ``forward``.

    Call: ``stepper(tokens (N,), state, q) -> (logits (N, V), state)``.
    """

    def __init__(self, model: ConditionalGenerator, banned: Sequence[int] = ()) -> None:
        _check_eval(model)
        self.model = model
        self.steps = layer_steps(model.decoder)
        self.embedding = model.embedding.weight  # (V, E)
        self.projection = model.projection
        self.output_weight, self.output_bias = model.output.weight, _masked_bias(model.output, banned)
        self.condition_input = model.config.condition_input

    def __call__(self, tokens: Tensor, state: Sequence[CellState], q: Tensor) -> tuple[Tensor, list[CellState]]:
        x = F.embedding(tokens, self.embedding)  # (N, E)
        if self.condition_input:
            x = torch.cat([x, q], dim=1)  # (N, E+C)
        x, state = _run_cells(self.steps, x, state)  # (N, H)
        if self.projection is not None:
            x = self.projection(x)  # (N, E)
        return F.linear(x, self.output_weight, self.output_bias), state  # (N, V)

    def initial_state(self, q: Tensor) -> list[CellState]:
        """``h_0`` (and ``c_0``) of every layer from the condition vectors ``q (N, C)``."""
        return _split_layers(self.model.initial_state(q))

    from_model_state = staticmethod(_split_layers)
    to_model_state = staticmethod(_stack_layers)
    select = staticmethod(select_cell_state)


def step_function(model: nn.Module, banned: Sequence[int] = ()
                  ) -> LanguageModelStep | Seq2SeqStep | ConditionalGeneratorStep:
    """The step function of ``model`` (a language model, an encoder-decoder or a conditional generator).

    Args:
        model: the trained model, in eval mode, on its device and dtype.
        banned: token ids never to produce: their logits are ``-inf`` (through the output bias, at no cost per step).

    Raises:
        ValueError: For a model of another kind, one in training mode, or a bidirectional decoder.
    """
    for kind, stepper in ((LanguageModel, LanguageModelStep), (Seq2Seq, Seq2SeqStep),
                          (ConditionalGenerator, ConditionalGeneratorStep)):
        if isinstance(model, kind):
            return stepper(model, banned)
    raise ValueError(f"model: got a {type(model).__name__}; expected a LanguageModel, Seq2Seq or "
                     "ConditionalGenerator")
