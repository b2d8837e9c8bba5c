"""The gradient-flow lab: what backpropagation through time reaches, and what the cells can remember.

* :func:`gradient_flow` (gradflow.py): per-step norms of ``dL_T/dh_k`` and ``dh_T/dh_k``, forget-gate activity;
* longdep.py: seeded long-range tasks (adding, copy, delayed recall, tickets, sequential digits), and
  longdep_train.py to train a cell on one under a budget (full or truncated BPTT);
* probes.py: minimal-pair probes of language models;
* plots.py: the figures of the lab;
* metrics.py and confusion_plot.py: classification metrics and the confusion-matrix figure (used by tasks).
"""

from .gradflow import decay_distance, gradient_flow, summarize
from .longdep import (
    LongDepData,
    adding_problem,
    copy_task,
    delayed_recall,
    digits_task,
    make_task,
    tickets_task,
)
from .longdep_train import LongDepConfig, train_long_dependency
from .probes import MinimalPair, read_minimal_pairs, run_probes
from .sequence_model import SequenceModel

__all__ = [
    "LongDepConfig",
    "LongDepData",
    "MinimalPair",
    "SequenceModel",
    "adding_problem",
    "copy_task",
    "decay_distance",
    "delayed_recall",
    "digits_task",
    "gradient_flow",
    "make_task",
    "read_minimal_pairs",
    "run_probes",
    "summarize",
    "tickets_task",
    "train_long_dependency",
]
