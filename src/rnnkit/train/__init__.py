"""Training: configs that map onto files and flags, callbacks, atomic file writes, and pickle-free checkpoints."""

from .atomic import append_jsonl, atomic_save_file, atomic_write_bytes, atomic_write_json, atomic_write_text
from .callbacks import Callback, EpochRecorder
from .checkpoint import (
    capture_rng_state,
    flatten_state,
    has_checkpoint,
    latest_checkpoint,
    load_model_weights,
    load_training_state,
    restore_rng_state,
    save_model_weights,
    save_training_state,
    unflatten_state,
)
from .config import (
    TrainConfig,
    config_from_mapping,
    config_to_dict,
    environment_versions,
    load_config_file,
    merge_config,
    validate_field_types,
)

__all__ = [
    "Callback",
    "EpochRecorder",
    "TrainConfig",
    "append_jsonl",
    "atomic_save_file",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "capture_rng_state",
    "config_from_mapping",
    "config_to_dict",
    "environment_versions",
    "flatten_state",
    "has_checkpoint",
    "latest_checkpoint",
    "load_config_file",
    "load_model_weights",
    "load_training_state",
    "merge_config",
    "restore_rng_state",
    "save_model_weights",
    "save_training_state",
    "unflatten_state",
    "validate_field_types",
]
