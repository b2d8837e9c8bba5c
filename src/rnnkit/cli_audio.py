"""``rnnkit train audio`` and the audio side of ``rnnkit predict``: flags onto the audio classification settings.

Every flag is one field of one settings dataclass (audio, features, model or train); a config file (TOML, YAML or
JSON) holds the same names, flat or in ``[audio]``, ``[features]``, ``[model]``, ``[train]`` tables, and flags
override it. The model and training flags are the text classifier's.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .cli_classify import CLASSIFY_FLAGS
from .cli_settings import add_data_arguments, add_resume_argument, add_setting_flags, run_training, training_settings
from .prediction_output import write_predictions
from .tasks.audio import SETTINGS as SECTIONS  # the settings dataclass of each config section

# flag -> (section, field, type, help); bool fields get --flag / --no-flag
AUDIO_FLAGS: dict[str, tuple[str, str, Any, str]] = {
    "--format": ("audio", "format", str, "auto, folders (a folder per class) or names (the label in the file name)"),
    "--label-pattern": ("audio", "label_pattern", str, "regular expression with a (?P<label>...) group matched at "
                                                       "the start of a file name (default: FSDD's '7_jackson_0')"),
    "--valid-fraction": ("audio", "valid_fraction", float, "share of each class held out without --valid"),
    "--features": ("features", "kind", str, "logmel (default) or mfcc"),
    "--sample-rate": ("features", "sample_rate", int, "resample every recording to this rate (default: the most "
                                                      "common rate of the training files)"),
    "--window-ms": ("features", "window_ms", float, "analysis window in milliseconds (default 25)"),
    "--hop-ms": ("features", "hop_ms", float, "step between frames in milliseconds (default 10)"),
    "--n-fft": ("features", "n_fft", int, "FFT size (default: next power of two >= the window)"),
    "--n-mels": ("features", "n_mels", int, "mel bands (default 40)"),
    "--n-mfcc": ("features", "n_mfcc", int, "cepstral coefficients kept with --features mfcc (default 13)"),
    "--f-min": ("features", "f_min", float, "lowest mel frequency in Hz (default 0)"),
    "--f-max": ("features", "f_max", float, "highest mel frequency in Hz (default: half the sample rate)"),
    "--normalize": ("features", "normalize", bool, "zero mean, unit variance per feature, fitted on the training "
                                                   "frames (default on)"),
    **{flag: entry for flag, entry in CLASSIFY_FLAGS.items()
       if entry[0] in ("model", "train") and flag != "--embedding-size"},
}


def add_audio_parser(tasks: argparse._SubParsersAction) -> None:
    """``rnnkit train audio ...``, a subcommand of ``rnnkit train``."""
    parser = tasks.add_parser(
        "audio", help="audio classifier (WAV recording -> label, e.g. spoken digits)",
        description="Train a recurrent classifier of WAV recordings on log-mel or MFCC frames. --data takes "
                    "directories (a folder per class, or files named LABEL_...wav), WAV files or quoted glob patterns.")
    add_data_arguments(parser, "training recordings (see above; required unless --resume)",
                       "validation recordings for choosing the best epoch (default: --valid-fraction of --data)",
                       "test recordings, evaluated once at the end", path_type=str, required=False)
    add_resume_argument(parser)
    add_setting_flags(parser, AUDIO_FLAGS)
    parser.set_defaults(handler=_train_audio)


def _train_audio(args: argparse.Namespace) -> int:
    from .tasks.audio import train_audio_classifier

    settings = training_settings(args, AUDIO_FLAGS, SECTIONS)
    return run_training(lambda: train_audio_classifier(args.out, data=args.data, valid=args.valid, test=args.test,
                                                       **settings), args.out, resume_with="rnnkit train audio")


def predict_audio(predictor: Any, args: argparse.Namespace) -> int:
    """``rnnkit predict RUN --input FILE|DIR|-`` for an audio run: one JSON object per WAV file.

    ``--input`` is a WAV file, a directory of them, a glob pattern, or ``-`` for one path per line on stdin.
    """
    if args.input == "-":
        files = [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]
        if not files:
            raise ValueError("--input -: stdin holds no paths; expected one WAV file path per line")
    else:
        files = [args.input]
    write_predictions(predictor.predict(files, batch_size=args.batch_size), args.format, sys.stdout)
    return 0
