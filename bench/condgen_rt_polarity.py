"""Conditional generation on MR / rt-polarity: does a sentence generated "positive" read as positive?

The 10,662 snippets (cp1252) are dealt into 10 stratified folds by a seeded shuffle: fold 0 is the test part,
fold 1 the validation part, folds 2-9 (80%) the training part. Then:

1. a ``ConditionalGenerator`` (the label sets the LSTM decoder's initial state and is fed at every step; tied
   embedding and output weights; 5,000 words) is trained on the training part, the best epoch chosen on the
   validation part's perplexity;
2. a ``SequenceClassifier`` (BiLSTM, max pooling, as ``classify_rt_polarity.py``) is trained on the REAL
   sentences of the same training part (best epoch on validation) and its accuracy measured on the test part,
   which neither model ever saw;
3. the sampling setting is chosen on a validation draw (seeds 1000+, ``--choice-count`` sentences per class and
   setting) over temperatures 0.5 / 0.7 / 1.0 and classifier-free guidance weights w = 0 / 1 / 2 / 4 (w = 0 is
   plain sampling; w > 0 pushes each token towards the condition and away from the other label, using the
   generator's own two decoders, see ``rnnkit.decode.condgen.generate_conditional``): the setting with the most distinct
   bigrams among those whose agreement with the classifier is >= ``--choice-margin`` (default 0.85: the 0.80
   target plus a margin); if none reaches it, the most agreeing one;
4. a fresh draw (seeds 2000+, ``--count`` sentences per class, default 500) with that setting is labelled by
   the classifier: the share labelled with the condition it was generated for is the benchmark's figure
   (target >= 0.80). Also printed: samples per class, the share copied verbatim from the training part, the
   distinct bigrams, the generator's validation and test perplexity (over its 5,000-word vocabulary, ``<eos>``
   and ``<unk>`` targets included), and the wall time.

No pretrained embeddings; the test part is used only for the two reported test figures, never for a choice::

    python bench/condgen_rt_polarity.py                       # the benchmark (~25 min on 2 busy shared cores)
    python bench/condgen_rt_polarity.py --smoke               # tiny budgets: the pipeline works (~2-3 min)
    python bench/condgen_rt_polarity.py --generator-run RUN --classifier-run RUN   # steps 3-4 again on runs that
                                                              # this script trained (folder runs/bench-condgen-...)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from classify_common import stratified_folds, write_jsonl
from data_paths import require

import rnnkit as rk
from rnnkit.data.readers import read_labelled
from rnnkit.models import ClassifierConfig, ConditionalGeneratorConfig
from rnnkit.tasks import train_classifier, train_condgen
from rnnkit.tasks.text_data import TextDataConfig
from rnnkit.train.config import TrainConfig

TEMPERATURES = (0.5, 0.7, 1.0)
GUIDANCES = (0.0, 1.0, 2.0, 4.0)  # classifier-free guidance weights w (0: plain sampling)


def agreement(classifier, generated: dict[str, list[str]]) -> dict[str, float]:
    """Share of each class's generated texts that the classifier labels with that class, and overall."""
    shares, total, agreeing = {}, 0, 0
    for label, texts in generated.items():
        predicted = [record["label"] for record in classifier.predict(texts)]
        hits = sum(prediction == label for prediction in predicted)
        shares[label] = hits / len(texts)
        total, agreeing = total + len(texts), agreeing + hits
    return {"overall": agreeing / total, **shares}


def diversity(texts: list[str], training: set[str]) -> dict[str, float]:
    """Share copied verbatim from the training texts, and distinct bigrams / all bigrams (distinct-2)."""
    bigrams = [tuple(words[i : i + 2]) for words in (text.split() for text in texts) for i in range(len(words) - 1)]
    return {"copied": sum(text in training for text in texts) / len(texts),
            "distinct_2": len(set(bigrams)) / max(len(bigrams), 1),
            "mean_words": sum(len(text.split()) for text in texts) / len(texts)}


def generate_all(generator, count: int, temperature: float, guidance: float, seed: int) -> dict[str, list[str]]:
    return {label: generator.generate(label, n=count, temperature=temperature, guidance=guidance, seed=seed + index)
            for index, label in enumerate(generator.labels)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-condgen-rt-polarity"), help="folder for runs")
    parser.add_argument("--generator-seconds", type=float, default=900.0, help="generator training budget (s)")
    parser.add_argument("--classifier-seconds", type=float, default=300.0, help="classifier training budget (s)")
    parser.add_argument("--count", type=int, default=500, help="generated sentences per class (final draw)")
    parser.add_argument("--choice-count", type=int, default=200, help="per class and temperature (validation)")
    parser.add_argument("--choice-margin", type=float, default=0.85, help="validation agreement to reach")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--smoke", action="store_true", help="tiny budgets and counts: the pipeline works")
    parser.add_argument("--generator-run", type=Path, default=None,
                        help="reuse a generator run trained by this script (no generator training)")
    parser.add_argument("--classifier-run", type=Path, default=None,
                        help="reuse a classifier run trained by this script (no classifier training)")
    args = parser.parse_args()
    if args.smoke:
        args.generator_seconds, args.classifier_seconds, args.count, args.choice_count = 20.0, 20.0, 20, 10
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    folder = require("rt_polarity")
    records = list(read_labelled([folder / "rt-polarity.pos", folder / "rt-polarity.neg"], encoding="cp1252"))
    fold_of = stratified_folds([record.label for record in records], 10, seed=0)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    paths = {name: args.out / f"{name}.jsonl" for name in ("train", "valid", "test")}
    parts = {"test": [r for r, k in zip(records, fold_of, strict=True) if k == 0],
             "valid": [r for r, k in zip(records, fold_of, strict=True) if k == 1],
             "train": [r for r, k in zip(records, fold_of, strict=True) if k >= 2]}
    for name, part in parts.items():
        write_jsonl(paths[name], part)
    training_texts = {" ".join(record.text.split()) for record in parts["train"]}
    quiet = {"quiet": True} if args.smoke else {"log_every": 100}

    if args.generator_run is None:
        generator_run = args.out / f"generator-{stamp}"
        generator_model = ConditionalGeneratorConfig(cell="lstm", embedding_size=128, hidden_size=256, num_layers=1,
                                                     condition_size=32, condition_input=True, dropout=0.3,
                                                     tie_weights=True)
        train_condgen(
            generator_run, data=paths["train"], valid=paths["valid"], test=paths["test"],
            text=TextDataConfig(min_freq=2, max_vocab=5000), model=generator_model,
            train=TrainConfig(epochs=30, batch_size=64, lr=3e-3, clip_norm=1.0, early_stopping_patience=2,
                              max_seconds=args.generator_seconds, seed=0, **quiet))
    else:
        generator_run = args.generator_run
    if args.classifier_run is None:
        classifier_run = args.out / f"classifier-{stamp}"
        train_classifier(
            classifier_run, data=paths["train"], valid=paths["valid"], test=paths["test"], text=TextDataConfig(),
            model=ClassifierConfig(cell="lstm", embedding_size=128, hidden_size=128, bidirectional=True,
                                   pooling="max", input_dropout=0.25, dropout=0.5),
            train=TrainConfig(epochs=6, batch_size=50, lr=0.005, early_stopping_patience=2,
                              max_seconds=args.classifier_seconds, seed=0, **quiet))
    else:
        classifier_run = args.classifier_run
    generator, classifier = rk.load(generator_run), rk.load(classifier_run)
    generator_valid, generator_test = generator.evaluate(paths["valid"]), generator.evaluate(paths["test"])
    history = [json.loads(line) for line in (Path(generator_run) / "metrics.jsonl").read_text().splitlines()]
    classifier_test = classifier.evaluate(paths["test"])["accuracy"]
    print(f"generator: valid ppl {generator_valid['ppl']:.1f}, test ppl {generator_test['ppl']:.1f}, "
          f"{len(history)} epochs; classifier: test accuracy {classifier_test:.4f} (real sentences)", file=sys.stderr)

    choice = {}
    for temperature in TEMPERATURES:  # the validation draw: seeds 1000+
        for guidance in GUIDANCES:
            drawn = generate_all(generator, args.choice_count, temperature, guidance, seed=1000)
            setting = (temperature, guidance)
            choice[setting] = {"agreement": agreement(classifier, drawn)["overall"],
                               **diversity([text for texts in drawn.values() for text in texts], training_texts)}
            print(f"validation draw, temperature {temperature}, guidance {guidance}: {json.dumps(choice[setting])}",
                  file=sys.stderr, flush=True)
    # the most diverse setting (distinct bigrams) that reaches the margin; if none does, the most agreeing one
    reaching = [setting for setting, value in choice.items() if value["agreement"] >= args.choice_margin]
    chosen = (max(reaching, key=lambda setting: choice[setting]["distinct_2"]) if reaching
              else max(choice, key=lambda setting: choice[setting]["agreement"]))

    final = generate_all(generator, args.count, *chosen, seed=2000)  # the reported draw: seeds 2000+
    shares = agreement(classifier, final)
    for label, texts in final.items():
        print(f"--- samples, condition {label!r}, temperature {chosen[0]}, guidance {chosen[1]} ---", file=sys.stderr)
        for text in texts[:5]:
            print("  " + text, file=sys.stderr)
    print(json.dumps({
        "benchmark": "condgen_rt_polarity", "agreement": shares, "target": ">= 0.80",
        "temperature": chosen[0], "guidance": chosen[1], "count_per_class": args.count,
        "final_diversity": diversity([text for texts in final.values() for text in texts], training_texts),
        "validation_choice": {f"T={t} w={w}": value for (t, w), value in choice.items()},
        "generator_valid_ppl": generator_valid["ppl"], "generator_test_ppl": generator_test["ppl"],
        "generator_epochs": len(history), "generator_best_valid_ppl_epoch": min(history,
                                                                                key=lambda r: r["valid_loss"])["epoch"],
        "classifier_test_accuracy": classifier_test,
        "samples": {label: texts[:5] for label, texts in final.items()},
        "runs": [str(generator_run), str(classifier_run)], "wall_seconds": time.perf_counter() - started,
        "command": "python " + " ".join(sys.argv),
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
