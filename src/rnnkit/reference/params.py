"""Parameters of the reference cells, named and shaped as torch.nn.RNNCell / torch.nn.LSTMCell.

    W_ih (G*H, I)   W_hh (G*H, H)   b_ih (G*H,)   b_hh (G*H,)

with G = 1 for the Elman cell and G = 4 for the LSTM, whose rows are stacked in torch's gate order
i, f, g, o. The readout y_t = W_hy h_t + b_y has its own small dataclass. All arrays are float64 copies,
made read-only so that a frozen dataclass really is frozen; `as_dict` hands out writable copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

# our name -> torch's name (torch.nn.RNNCell / LSTMCell parameters; nn.Linear for the readout)
_CELL_TORCH_NAMES = {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}
_READOUT_TORCH_NAMES = {"W_hy": "weight", "b_y": "bias"}


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _to_numpy(value: Any) -> np.ndarray:
    """A float64 copy of an array or a torch tensor (no torch import needed: tensors are duck-typed)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().double().numpy()
    return np.array(value, dtype=np.float64)


def _freeze(obj, names: tuple[str, ...]) -> None:
    for name in names:
        a = _to_numpy(getattr(obj, name))
        a.flags.writeable = False
        object.__setattr__(obj, name, a)


def _lookup(mapping: Mapping[str, Any], torch_names: dict[str, str], kind: str) -> dict[str, Any]:
    """Maps a dict with our names or torch's names onto our names; biases missing from it are zero."""
    valid = set(torch_names) | set(torch_names.values())
    unknown = sorted(set(mapping) - valid)
    if unknown:
        raise ValueError(f"unknown keys {unknown} for {kind}; valid keys are {sorted(valid)}")
    out = {}
    for ours, theirs in torch_names.items():
        if ours in mapping:
            out[ours] = mapping[ours]
        elif theirs in mapping and mapping[theirs] is not None:
            out[ours] = mapping[theirs]
        elif ours.startswith("b"):
            out[ours] = None  # a cell or layer built with bias=False
        else:
            raise ValueError(f"{kind} needs {ours!r} (or torch's {theirs!r}); got keys {sorted(mapping)}")
    return out


@dataclass(frozen=True, eq=False)
class _CellParams:
    """Shared body of ElmanParams and LSTMParams; G = `gates` blocks of H rows."""

    W_ih: np.ndarray  # (G*H, I)
    W_hh: np.ndarray  # (G*H, H)
    b_ih: np.ndarray  # (G*H,)
    b_hh: np.ndarray  # (G*H,)

    gates: ClassVar[int] = 1

    def __post_init__(self) -> None:
        _freeze(self, ("W_ih", "W_hh", "b_ih", "b_hh"))
        G, name = self.gates, type(self).__name__
        if self.W_hh.ndim != 2 or self.W_hh.shape[0] != G * self.W_hh.shape[1]:
            raise ValueError(f"{name}.W_hh has shape {self.W_hh.shape}; expected ({G}*H, H)")
        H = self.W_hh.shape[1]
        if self.W_ih.ndim != 2 or self.W_ih.shape[0] != G * H:
            raise ValueError(f"{name}.W_ih has shape {self.W_ih.shape}; expected ({G * H}, I)")
        for b in ("b_ih", "b_hh"):
            if getattr(self, b).shape != (G * H,):
                raise ValueError(f"{name}.{b} has shape {getattr(self, b).shape}; expected ({G * H},)")

    @property
    def input_size(self) -> int:
        return self.W_ih.shape[1]

    @property
    def hidden_size(self) -> int:
        return self.W_hh.shape[1]

    @classmethod
    def init(cls, input_size: int, hidden_size: int, rng=None):
        """Draws every entry from U(-1/√H, 1/√H), as torch does. `rng`: a Generator or a seed."""
        rng, k, GH = _rng(rng), 1.0 / np.sqrt(hidden_size), cls.gates * hidden_size
        return cls(
            W_ih=rng.uniform(-k, k, (GH, input_size)),
            W_hh=rng.uniform(-k, k, (GH, hidden_size)),
            b_ih=rng.uniform(-k, k, GH),
            b_hh=rng.uniform(-k, k, GH),
        )

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]):
        """From {"W_ih", "W_hh", "b_ih", "b_hh"} or a torch cell's state_dict (missing biases are zero)."""
        d = _lookup(mapping, _CELL_TORCH_NAMES, cls.__name__)
        rows = cls.gates * np.shape(_to_numpy(d["W_hh"]))[-1]
        return cls(**{k: np.zeros(rows) if v is None else v for k, v in d.items()})

    @classmethod
    def from_torch(cls, cell):
        """Copies the weights of a torch.nn.RNNCell (Elman) or torch.nn.LSTMCell (LSTM).

        An RNNCell's nonlinearity is not a parameter: pass `cell.nonlinearity` to `elman_forward`.
        """
        return cls.from_dict({theirs: getattr(cell, theirs) for theirs in _CELL_TORCH_NAMES.values()})

    def as_dict(self) -> dict[str, np.ndarray]:
        """{"W_ih": ..., ...}: writable copies under our names, the keys of the gradient dicts."""
        return {f.name: getattr(self, f.name).copy() for f in fields(self)}

    def to_state_dict(self) -> dict[str, np.ndarray]:
        """The same arrays under torch's names, for `cell.load_state_dict` (after torch.from_numpy)."""
        return {_CELL_TORCH_NAMES[k]: v for k, v in self.as_dict().items()}


@dataclass(frozen=True, eq=False)
class ElmanParams(_CellParams):
    """Elman cell h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh): W_ih (H, I), W_hh (H, H), b (H,)."""

    gates: ClassVar[int] = 1


@dataclass(frozen=True, eq=False)
class LSTMParams(_CellParams):
    """LSTM cell: W_ih (4H, I), W_hh (4H, H), b (4H,), rows in gate order i, f, g, o as in torch."""

    gates: ClassVar[int] = 4


@dataclass(frozen=True, eq=False)
class ReadoutParams:
    """Readout y_t = W_hy h_t + b_y applied at every step: W_hy (O, H), b_y (O,); torch.nn.Linear's layout."""

    W_hy: np.ndarray  # (O, H)
    b_y: np.ndarray  # (O,)

    def __post_init__(self) -> None:
        _freeze(self, ("W_hy", "b_y"))
        if self.W_hy.ndim != 2 or self.b_y.shape != (self.W_hy.shape[0],):
            raise ValueError(f"ReadoutParams has W_hy {self.W_hy.shape}, b_y {self.b_y.shape}; "
                             "expected (O, H) and (O,)")

    @property
    def output_size(self) -> int:
        return self.W_hy.shape[0]

    @classmethod
    def init(cls, hidden_size: int, output_size: int, rng=None) -> ReadoutParams:
        """U(-1/√H, 1/√H) entries, as torch.nn.Linear(hidden_size, output_size)."""
        rng, k = _rng(rng), 1.0 / np.sqrt(hidden_size)
        return cls(W_hy=rng.uniform(-k, k, (output_size, hidden_size)), b_y=rng.uniform(-k, k, output_size))

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> ReadoutParams:
        """From {"W_hy", "b_y"} or a torch.nn.Linear state_dict {"weight", "bias"}."""
        d = _lookup(mapping, _READOUT_TORCH_NAMES, cls.__name__)
        if d["b_y"] is None:
            d["b_y"] = np.zeros(np.shape(_to_numpy(d["W_hy"]))[0])
        return cls(**d)

    @classmethod
    def from_torch(cls, linear) -> ReadoutParams:
        """Copies the weights of a torch.nn.Linear(H, O)."""
        return cls.from_dict({"weight": linear.weight, "bias": linear.bias})

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"W_hy": self.W_hy.copy(), "b_y": self.b_y.copy()}

    def to_state_dict(self) -> dict[str, np.ndarray]:
        return {"weight": self.W_hy.copy(), "bias": self.b_y.copy()}
