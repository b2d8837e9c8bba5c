"""``rk.load(run)``: a trained run directory back as an object with its task's verbs."""

from __future__ import annotations

from pathlib import Path

import torch

from .tasks import PREDICTORS
from .tasks.inference import inference_dtype, set_inference_dtype
from .tasks.run_dir import read_run_config


def load(run_dir: str | Path, device: str = "cpu", dtype: str | torch.dtype | None = None):
    """Load a run directory written by ``rnnkit train``; returns the task's predictor.

    A language-model run gives a :class:`~rnnkit.tasks.LanguageModelPredictor` with ``score``, ``generate``
    and ``evaluate``; a translation run a :class:`~rnnkit.tasks.Seq2SeqPredictor` with ``translate``,
    ``evaluate``, ``attention`` and ``plot_attention``. Nothing is unpickled: weights are safetensors, settings JSON.
    """
    config = read_run_config(Path(run_dir))
    task = config.get("task")
    if task not in PREDICTORS:
        raise ValueError(f"{run_dir}: a run of task {task!r}; this rnnkit knows {', '.join(sorted(PREDICTORS))}")
    inference_dtype(dtype)  # a bad name is an error before the weights are read
    return set_inference_dtype(PREDICTORS[task].load(Path(run_dir), device=device), dtype)
