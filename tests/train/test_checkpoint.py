"""Checkpoints: flatten/unflatten, weights, optimizer/scheduler/RNG round trips, atomicity, errors."""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from rnnkit.train import (
    atomic_save_file,
    capture_rng_state,
    flatten_state,
    has_checkpoint,
    load_model_weights,
    load_training_state,
    restore_rng_state,
    save_model_weights,
    save_training_state,
    unflatten_state,
)


def same(a, b) -> bool:
    """Deep equality that also compares types (1 != 1.0 != True), nan, the sign of zero and tensors."""
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return same(list(a), list(b)) and all(same(a[key], b[key]) for key in a)
    return a == b


def round_trip(obj):
    """Through real serialization: safetensors bytes and strict JSON text."""
    tensors, skeleton = flatten_state(obj)
    text = json.dumps(skeleton, allow_nan=False)
    loaded = safetensors.torch.load(safetensors.torch.save(tensors)) if tensors else {}
    return unflatten_state(loaded, json.loads(text))


tensor_values = st.one_of(
    st.lists(st.floats(-1e3, 1e3, width=32), max_size=4).map(lambda v: torch.tensor(v, dtype=torch.float32)),
    st.lists(st.integers(-9, 9), min_size=1, max_size=4).map(lambda v: torch.tensor(v).reshape(-1, 1)),
    st.floats(-5, 5).map(lambda v: torch.tensor(v, dtype=torch.float64)),  # 0-d, like Adam's "step"
)
leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6), tensor_values)
keys = st.one_of(st.text(max_size=5), st.integers(-3, 3), st.sampled_from(["__tensor__", "__tuple__", "__dict__"]))
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(keys, children, max_size=3),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(trees)
def test_flatten_unflatten_round_trip(obj):
    assert same(round_trip(obj), obj)


def test_flatten_skeleton_shape_and_errors():
    tensors, skeleton = flatten_state({"state": {0: {"exp_avg": torch.ones(2)}}, "betas": (0.9, 0.99),
                                       "best": math.inf})
    assert list(tensors) == ["state.0.exp_avg"]
    assert skeleton == {"state": {"__dict__": [[0, {"exp_avg": {"__tensor__": "state.0.exp_avg"}}]]},
                        "betas": {"__tuple__": [0.9, 0.99]}, "best": {"__float__": "inf"}}
    with pytest.raises(ValueError, match="cannot store a set at a.0"):
        flatten_state({"a": [{1, 2}]})
    with pytest.raises(ValueError, match="missing"):
        unflatten_state({}, {"__tensor__": "x"})


def test_flatten_copies_shared_and_strided_tensors():
    base = torch.arange(6.0).reshape(2, 3)
    tensors, _ = flatten_state([base, base.t(), base[0]])
    safetensors.torch.save(tensors)  # would refuse shared storage or non-contiguous tensors
    assert torch.equal(tensors["1"], base.t())


def batches(count: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(4, 3, generator=generator), torch.randn(4, 2, generator=generator)) for _ in range(count)]


def train(model, optimizer, data, scheduler=None):
    for inputs, targets in data:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(inputs), targets).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()


OPTIMIZERS = {
    "sgd": lambda parameters: torch.optim.SGD(parameters, lr=0.1, momentum=0.9, weight_decay=0.01),
    "adamw": lambda parameters: torch.optim.AdamW(parameters, lr=0.01, betas=(0.8, 0.95)),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_round_trip_continues_bit_identically(tmp_path, name):
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    optimizer = OPTIMIZERS[name](model.parameters())
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    data = batches(5)
    train(model, optimizer, data[:3], scheduler)
    carried = (torch.randn(1, 4, 2), torch.randn(1, 4, 2))
    state = {"step": 3, "best": math.inf, "history": [{"loss": math.nan}], "carried": carried}
    save_training_state(tmp_path, model=model, optimizer=optimizer, scheduler=scheduler, trainer_state=state)

    restored = nn.Linear(3, 2)
    restored_optimizer = OPTIMIZERS[name](restored.parameters())
    restored_scheduler = torch.optim.lr_scheduler.StepLR(restored_optimizer, step_size=2, gamma=0.5)
    loaded = load_training_state(tmp_path, model=restored, optimizer=restored_optimizer,
                                 scheduler=restored_scheduler)
    assert same(loaded, state)
    assert restored_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    train(model, optimizer, data[3:], scheduler)
    train(restored, restored_optimizer, data[3:], restored_scheduler)
    for original, copy in zip(model.parameters(), restored.parameters(), strict=True):
        assert torch.equal(original, copy)


def test_plateau_scheduler_state_with_infinity(tmp_path):
    model = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
    save_training_state(tmp_path, model=model, optimizer=optimizer, scheduler=scheduler, trainer_state={"step": 0})
    fresh = torch.optim.lr_scheduler.ReduceLROnPlateau(torch.optim.SGD(model.parameters(), lr=0.1), patience=7)
    load_training_state(tmp_path, model=model, scheduler=fresh)
    assert fresh.best == math.inf and fresh.patience == scheduler.patience


def draw():
    return random.random(), float(np.random.rand()), np.random.normal(), torch.rand(3).tolist()


def test_rng_round_trip():
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.normal()  # leaves a cached gaussian in NumPy's state
    state = round_trip(capture_rng_state())
    expected = draw()
    draw()
    restore_rng_state(state)
    assert draw() == expected


def test_training_state_restores_rng(tmp_path):
    model = nn.Linear(3, 2)
    save_training_state(tmp_path, model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                        trainer_state={"step": 1})
    expected = draw()
    load_training_state(tmp_path, model=model)
    assert draw() == expected
    load_training_state(tmp_path, model=model, restore_rng=False)
    assert draw() != expected


def save(directory, step, model=None, keep=1, **extra):
    model = model if model is not None else nn.Linear(3, 2)
    return save_training_state(directory, model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                               trainer_state={"step": step, **extra}, keep=keep)


def names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_layout_pruning_and_repeated_steps(tmp_path):
    assert not has_checkpoint(tmp_path)
    first = save(tmp_path, 1)
    assert sorted(path.name for path in first.iterdir()) == [  # a fresh SGD holds no tensors: no optimizer.safetensors
        "model.safetensors", "optimizer.json", "rng.json", "rng.safetensors", "trainer.json"]
    assert has_checkpoint(tmp_path) and (tmp_path / "LATEST").read_text().strip() == "step-000000001"
    save(tmp_path, 2)
    assert names(tmp_path) == ["LATEST", "step-000000002"]
    save(tmp_path, 2)
    assert names(tmp_path) == ["LATEST", "step-000000002-1"]
    save(tmp_path, 3, keep=2)
    assert names(tmp_path) == ["LATEST", "step-000000002-1", "step-000000003"]


@pytest.mark.parametrize("failing", ["every", "LATEST"])
def test_crash_during_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, failing):
    model = nn.Linear(3, 2)
    save(tmp_path, 1, model=model, marker="first")
    real_replace = os.replace

    def crash(source, target):
        if failing == "every" or Path(target).name == "LATEST":
            raise OSError("disk on fire")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        save(tmp_path, 2, marker="second")
    monkeypatch.undo()
    assert (tmp_path / "LATEST").read_text().strip() == "step-000000001"
    restored = nn.Linear(3, 2)
    assert load_training_state(tmp_path, model=restored)["marker"] == "first"
    assert torch.equal(restored.weight, model.weight)
    assert not [name for name in names(tmp_path) if "tmp" in name]
    save(tmp_path, 2, marker="third")  # the next save clears what the crash left
    assert names(tmp_path) == ["LATEST", "step-000000002" if failing == "every" else "step-000000002-1"]


def test_load_errors(tmp_path):
    model = nn.Linear(3, 2)
    with pytest.raises(FileNotFoundError, match=r"no checkpoint to resume from \(LATEST missing\)"):
        load_training_state(tmp_path, model=model)
    directory = save(tmp_path, 4, model=model)
    (directory / "optimizer.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(ValueError, match="optimizer.json: broken checkpoint file"):
        load_training_state(tmp_path, model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="scheduler.json: missing from the checkpoint"):
        load_training_state(tmp_path, model=model, scheduler=object())
    with pytest.raises(ValueError, match="model.safetensors: the weights do not fit the model: unexpected keys"):
        load_training_state(tmp_path, model=nn.Linear(3, 2, bias=False))
    (tmp_path / "LATEST").write_text("step-000000009\n", encoding="utf-8")
    with pytest.raises(ValueError, match="LATEST: names 'step-000000009'"):
        load_training_state(tmp_path, model=model)


class TiedModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(5, 4)
        self.decoder = nn.Linear(4, 5, bias=False)
        self.decoder.weight = self.embedding.weight


def test_tied_weights_load_back_tied(tmp_path):
    model = TiedModel()
    save_model_weights(tmp_path / "model.safetensors", model)
    restored = TiedModel()
    load_model_weights(tmp_path / "model.safetensors", restored)
    assert restored.decoder.weight is restored.embedding.weight
    assert torch.equal(restored.embedding.weight, model.embedding.weight)


def test_weights_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model_weights(tmp_path / "missing.safetensors", nn.Linear(3, 2))
    (tmp_path / "junk.safetensors").write_bytes(b"this is not a safetensors file at all")
    with pytest.raises(ValueError, match="junk.safetensors: not a safetensors weights file"):
        load_model_weights(tmp_path / "junk.safetensors", nn.Linear(3, 2))
    save_model_weights(tmp_path / "linear.safetensors", nn.Linear(3, 2))
    with pytest.raises(ValueError, match=r"shape mismatches 'weight \[2, 3\] \(model: \[2, 4\]\)'"):
        load_model_weights(tmp_path / "linear.safetensors", nn.Linear(4, 2))
    with pytest.raises(ValueError, match="unexpected keys 'bias'"):
        load_model_weights(tmp_path / "linear.safetensors", nn.Linear(3, 2, bias=False))
    load_model_weights(tmp_path / "linear.safetensors", nn.Linear(3, 2, bias=False), strict=False)


def test_atomic_save_file_removes_temporary_on_failure(tmp_path):
    def writer(path: Path) -> None:
        path.write_bytes(b"half")
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        atomic_save_file(tmp_path / "out.bin", writer)
    assert names(tmp_path) == []
