"""What the models' hyperparameter dataclasses share: one-line checks of their fields, the recurrent layer that a
cell name stands for, and the round trip through a plain dict (a run directory's ``config.json``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from typing import Any, TypeVar

from ..nn import GRU, LSTM, RNN, LayerNormLSTMCell, Recurrent
from ..nn.recurrent import BACKENDS

CELLS = ("rnn", "gru", "lstm", "lnlstm")
BACKEND_HELP = ("recurrent implementation: explicit (our cells, unrolled), fused (torch's kernels; a ragged batch "
                "runs segment by segment between its lengths), packed (torch's kernels on packed sequences) or auto "
                "(the fastest exact path for the cell and device; rule in rnnkit.nn.ragged)")
ConfigType = TypeVar("ConfigType", bound="DictConfig")


def check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    """A ValueError naming ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}: got {value!r}; expected one of {', '.join(map(repr, choices))}")


def check_integer(name: str, value: Any, minimum: int = 1) -> None:
    """A ValueError naming ``name`` unless ``value`` is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name}: got {value!r}; expected {expected}")


def check_probability(name: str, value: Any) -> None:
    """A ValueError naming ``name`` unless ``value`` is a number in [0, 1) (a dropout probability)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ValueError(f"{name}: got {value!r}; expected a probability in [0, 1)")


def check_flag(name: str, value: Any) -> None:
    """A ValueError naming ``name`` unless ``value`` is True or False."""
    if not isinstance(value, bool):
        raise ValueError(f"{name}: got {value!r}; expected True or False")


def check_cell_and_backend(cell: Any, backend: Any, cells: Sequence[str] = CELLS) -> None:
    """``cell`` one of ``cells``, ``backend`` one of the layers' backends, and no fused layer-norm LSTM."""
    check_choice("cell", cell, cells)
    check_choice("backend", backend, BACKENDS)
    if backend == "fused" and cell == "lnlstm":
        raise ValueError("backend: got 'fused' with cell 'lnlstm', which has no fused kernel; "
                         "expected 'auto' or 'explicit'")


def recurrent_layer(cell: str, input_size: int, hidden_size: int, **options: Any) -> Recurrent:
    """The batch-first rnnkit layer of the named cell (``options`` go to its constructor)."""
    if cell == "rnn":
        return RNN(input_size, hidden_size, **options)
    if cell == "gru":
        return GRU(input_size, hidden_size, **options)
    if cell == "lstm":
        return LSTM(input_size, hidden_size, **options)
    check_choice("cell", cell, CELLS)
    return Recurrent(LayerNormLSTMCell, input_size, hidden_size, **options)


class DictConfig:
    """Mixin for a frozen hyperparameter dataclass: ``to_dict`` and ``from_dict`` (unknown keys refused)."""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-ready)."""
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[ConfigType], mapping: Mapping[str, Any]) -> ConfigType:
        """Build from a dict; an unknown key is a ValueError listing the valid ones."""
        valid = [field.name for field in fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(mapping) - set(valid))
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown keys {unknown}; valid keys are {valid}")
        return cls(**mapping)
