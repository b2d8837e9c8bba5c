"""The README's UD English-EWT tagging block runs as written: its commands (after the ``rnnkit data get``) are run
unchanged in a folder where tiny CoNLL-U files stand at the paths it names (comments, a multiword-token range and
an empty node included), so a flag that the CoNLL-U reader refuses fails here, not on a user's first try."""

from __future__ import annotations

import gzip
import json
import os
import shlex
import stat
import subprocess
import sys

import pytest

from tests.test_readme import ROOT, commands, marked_blocks

SENTENCES = [
    ("# text = Don't leave it.", [("1-2", "Don't", "_"), ("1", "Do", "AUX"), ("2", "n't", "PART"),
                                   ("3", "leave", "VERB"), ("3.1", "leave", "_"), ("4", "it", "PRON"),
                                   ("5", ".", "PUNCT")]),
    ("# text = The cat sat.", [("1", "The", "DET"), ("2", "cat", "NOUN"), ("3", "sat", "VERB"),
                               ("4", ".", "PUNCT")]),
    ("# text = A dog ran on the mat.", [("1", "A", "DET"), ("2", "dog", "NOUN"), ("3", "ran", "VERB"),
                                        ("4", "on", "ADP"), ("5", "the", "DET"), ("6", "mat", "NOUN"),
                                        ("7", ".", "PUNCT")]),
]


def conllu_text() -> str:
    blocks = []
    for comment, words in SENTENCES:
        lines = [comment]
        for word_id, form, upos in words:
            lines.append("\t".join([word_id, form, form.lower(), upos, "_", "_", "_", "_", "_", "_"]))
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks) + "\n"


def tagging_block() -> str:
    blocks = [script for _, language, script in marked_blocks()
              if language == "bash" and "rnnkit train tag" in script and "ud_english_ewt" in script]
    assert len(blocks) == 1, "the README's UD English-EWT tagging block"
    return blocks[0]


@pytest.mark.slow  # 20 epochs as written: ~20 s of CPU (checkpoints and curves each epoch)
def test_the_ud_tagging_block_runs_as_written(tmp_path):
    script = tagging_block()
    named = {word for words in commands(script) for word in words if word.startswith("data/ud_english_ewt/")}
    assert named, "the block names the UD files"
    for path in named:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(gzip.compress(conllu_text().encode("utf-8")))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "rnnkit"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m rnnkit \"$@\"\n")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    lines = script.replace("\\\n", " ").splitlines()
    runnable = "\n".join(line for line in lines if not line.startswith("rnnkit data get"))
    environment = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(ROOT / "src"),
                       OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    result = subprocess.run(["bash", "-e", "-c", runnable], cwd=tmp_path, env=environment, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, f"README tagging block failed:\n{runnable}\n{result.stderr[-3000:]}"
    predicted = json.loads(result.stdout.strip().splitlines()[-1])  # predict's JSONL line
    assert predicted["tokens"] == shlex.split("The cat sat on the mat .")
    assert set(predicted["tags"]) <= {"AUX", "PART", "VERB", "PRON", "PUNCT", "DET", "NOUN", "ADP"}
