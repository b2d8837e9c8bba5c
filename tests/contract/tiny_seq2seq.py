"""Tiny translation data and settings for the contract tests: word-for-word English -> Persian pairs."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from rnnkit.models import Seq2SeqConfig
from rnnkit.tasks.seq2seq import Seq2SeqTaskConfig, TranslationCorpusConfig
from rnnkit.train.config import TrainConfig

NAME = "seq2seq"
WORDS = {"i": "من", "see": "می\u200cبینم", "a": "یک", "cat": "گربه", "dog": "سگ", "big": "بزرگ", "you": "تو"}


def pairs(count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` (English, Persian) sentence pairs of 1-4 words, seeded."""
    rng = random.Random(seed)
    result = []
    for _ in range(count):
        words = [rng.choice(list(WORDS)) for _ in range(rng.randint(1, 4))]
        result.append((" ".join(words).capitalize() + ".", " ".join(WORDS[word] for word in words) + "."))
    return result


def tiny(tmp_path: Path, in_memory: bool = False) -> dict[str, Any]:
    """Keywords of ``train_seq2seq``: 16 training pairs (4 batches of 4), 8 validation and 4 test pairs. SGD, not
    AdamW: Adam magnifies the rounding differences of near-zero gradients beyond the DDP test's 1e-6."""
    splits = {"data": pairs(16, 0), "valid": pairs(8, 1), "test": pairs(4, 2)}
    if not in_memory:
        tmp_path.mkdir(parents=True, exist_ok=True)
        for name, split in splits.items():
            path = tmp_path / f"{name}.tsv"
            path.write_text("".join(f"{source}\t{target}\n" for source, target in split), encoding="utf-8")
            splits[name] = path
    return {**splits, "corpus": TranslationCorpusConfig(max_length=8),
            "model": Seq2SeqConfig(cell="gru", embedding_size=8, hidden_size=12, num_layers=1, dropout=0.0,
                                   attention="additive"),
            "train": TrainConfig(epochs=2, batch_size=4, optimizer="sgd", lr=1.0, seed=0, quiet=True),
            "seq2seq": Seq2SeqTaskConfig(teacher_forcing=1.0, beam_size=2, max_length_offset=2)}


def use(predictor: Any, tmp_path: Path) -> None:
    """Every verb of a seq2seq run once: translate (also the CLI's translate_records, with a heatmap), evaluate."""
    one = predictor.translate("I see a cat.", beam_size=1)
    assert {"source", "translation", "tokens", "score", "complete"} <= set(one)
    many = predictor.translate(["A dog.", "You."], beam_size=2)
    assert [record["source"] for record in many] == ["A dog.", "You."]
    plot = tmp_path / "attention.png"
    records = predictor.translate_records([("TEXT argument 1", "I see you."), ("in.txt line 1", "A big cat.")],
                                          beam_size=2, plot=plot)
    assert len(records) == 2 and records[0]["plot"] == str(plot) and plot.exists()
    assert {"source", "translation", "tokens", "score", "complete"} <= set(records[1])
    scores = predictor.evaluate(pairs(4, 3), beam_size=1, batch_size=2)
    assert scores["sentences"] == 4 and scores["beam"] == 1 and 0.0 <= scores["bleu"] <= 100.0
    assert {"chrf", "sentences_per_second"} <= set(scores)
