"""Classifier prediction speed: rnnkit's ``predict`` against a plain PyTorch loop on the same weights, one run.

Both sides take the same raw texts and return, per text, the label and the class probabilities:

* **rnnkit**: ``ClassifierPredictor.predict(texts, batch_size)`` (word tokens, vocabulary lookup, batches in length
  order, ``rk.nn.LSTM`` bidirectional with max pooling, the linear head, softmax, one dict per text);
* **plain**: ``str.split`` + dict lookup, batches in the given order padded with ``pad_sequence``,
  ``nn.Embedding`` -> ``nn.LSTM(bidirectional)`` over a ``pack_padded_sequence`` -> masked max over time ->
  ``nn.Linear`` -> softmax, the same dict per text;

the default classifier (embedding 128, BiLSTM 128, max pooling), a 10k-word vocabulary, 2,000 texts of 5-60 words
(random words: speed does not depend on the text), at batch 1 and 64. Rounds alternate (ABBA) after a warm-up;
reported: median texts/s of each and the median per-round ratio. Target: >= 0.95 at both batch sizes.

Usage:
    python bench/predict_speed.py                       # ~3 min on 2 loaded cores
    python bench/predict_speed.py --texts 500 --rounds 3 --threads 1
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from rnnkit.models import ClassifierConfig, build_classifier
from rnnkit.tasks.classify.predict import ClassifierPredictor
from rnnkit.tasks.text_data import TextDataConfig
from rnnkit.text import Vocab


class PlainClassifier(nn.Module):
    """Embedding -> bidirectional nn.LSTM (packed) -> max over real steps -> Linear."""

    def __init__(self, vocab: int, embedding: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, embedding, padding_idx=0)
        self.lstm = nn.LSTM(embedding, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        outputs, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, padding_value=float("-inf"))
        return self.head(outputs.amax(dim=1))  # (B, C)


def plain_predict(model: PlainClassifier, stoi: dict[str, int], labels: list[str], texts: list[str],
                  batch_size: int) -> list[dict]:
    results = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = texts[start:start + batch_size]
            ids = [torch.tensor([stoi.get(word, 1) for word in text.lower().split()]) for text in batch]
            lengths = torch.tensor([len(row) for row in ids])
            probabilities = torch.softmax(model(pad_sequence(ids, batch_first=True), lengths), dim=1)
            for text, row in zip(batch, probabilities, strict=True):
                results.append({"text": text, "label": labels[int(row.argmax())],
                                "probabilities": dict(zip(labels, row.tolist(), strict=True))})
    return results


def copy_weights(model: nn.Module, plain: PlainClassifier) -> None:
    ours = model.state_dict()
    theirs = {"embedding.weight": ours["embedding.weight"]}
    theirs |= {f"lstm.{name.removeprefix('recurrent.')}": tensor for name, tensor in ours.items()
               if name.startswith("recurrent.")}
    head = [name for name in ours if name.startswith("head.")]
    theirs |= {"head.weight": ours[[n for n in head if n.endswith("weight")][0]],
               "head.bias": ours[[n for n in head if n.endswith("bias")][0]]}
    plain.load_state_dict(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--batch-sizes", default="1,64")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = random.Random(0)
    words = [f"w{index}" for index in range(9998)]
    vocab = Vocab.build([words])
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 60))) for _ in range(args.texts)]
    labels = ["negative", "positive"]
    torch.manual_seed(0)
    config = ClassifierConfig()
    model = build_classifier(len(labels), config, vocab_size=len(vocab), pad_id=vocab.pad_id)
    predictor = ClassifierPredictor(model, vocab, labels, TextDataConfig())
    plain = PlainClassifier(len(vocab), config.embedding_size, config.hidden_size, len(labels)).eval()
    copy_weights(model, plain)
    print(f"torch {torch.__version__}, {args.threads} thread(s); {args.texts} texts, vocabulary {len(vocab)}, "
          f"BiLSTM {config.hidden_size}, pooling {config.pooling}", flush=True)
    for batch_size in map(int, args.batch_sizes.split(",")):
        count = args.texts if batch_size > 1 else max(1, args.texts // 4)  # batch 1 is slow: fewer texts
        subset = texts[:count]
        ours_first = predictor.predict(subset[:50], batch_size=batch_size)
        theirs_first = plain_predict(plain, vocab.stoi, labels, subset[:50], batch_size)
        gap = max(abs(a["probabilities"][label] - b["probabilities"][label])
                  for a, b in zip(ours_first, theirs_first, strict=True) for label in labels)

        def ours(subset=subset, batch_size=batch_size):
            return predictor.predict(subset, batch_size=batch_size)

        def theirs(subset=subset, batch_size=batch_size):
            return plain_predict(plain, vocab.stoi, labels, subset, batch_size)
        ours(), theirs()  # warm-up
        our_times, their_times = [], []
        for index in range(args.rounds):
            for run in ((ours, theirs) if index % 2 == 0 else (theirs, ours)):
                start = time.perf_counter()
                run()
                (our_times if run is ours else their_times).append(time.perf_counter() - start)
        ratio = statistics.median(t / o for o, t in zip(our_times, their_times, strict=True))
        print(f"batch {batch_size:>3}: rnnkit {count / statistics.median(our_times):8.0f} texts/s, plain "
              f"{count / statistics.median(their_times):8.0f} texts/s, ratio {ratio:.3f} (max |p diff| {gap:.1e})",
              flush=True)


if __name__ == "__main__":
    main()
