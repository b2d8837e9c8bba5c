r"""Caption scores and the two baselines a captioner must beat.

BLEU-n (n = 1..4) is sacrebleu's corpus BLEU with n-grams up to n, against all reference captions of each image,
on the task's own word tokens (lower-cased as the run reads captions) with punctuation marks dropped, as the
coco-caption toolkit's tokeniser does; sacrebleu's own tokenisation is off (``tokenize="none"``)::

    BLEU-n = BP * exp( (1/n) sum_{k<=n} log p_k ),   p_k: clipped k-gram precision over all references,
    BP = min(1, exp(1 - r / c)),  r: the reference lengths closest to each hypothesis, c: hypothesis length

CIDEr-D and METEOR come from the coco-caption toolkit's Python release (``pycocoevalcap``, extra
``caption-metrics``), on the same tokens, scaled by 100 like BLEU. CIDEr-D (Vedantam et al. 2015) is pure Python:
for each n = 1..4 the TF-IDF vectors g^n of the n-grams (IDF from the reference captions of the images scored,
as the toolkit does), clipped at the reference's counts, with a Gaussian length penalty::

    CIDEr-D_n(c, S) = (10 / m) sum_j exp(-(l(c) - l(s_j))^2 / (2 * 6^2)) * min(g^n(c), g^n(s_j)) . g^n(s_j)
                      / (|g^n(c)| |g^n(s_j)|)          CIDEr-D = mean over images of (1/4) sum_n CIDEr-D_n

(``l``: the toolkit counts a caption's bigrams as its length.) METEOR 1.5 (Denkowski & Lavie 2014; exact, stem,
synonym and paraphrase matches) runs the toolkit's Java jar: it needs ``java`` on the PATH and is computed only
when asked (``meteor=True``; the JVM takes seconds to start).

Baselines (both honest: they use the training captions only, never the test references):

* ``nearest``: the caption of the training image nearest in the encoder's feature space (cosine of the mean grid
  vector); of that image's captions, the consensus one: the one with the highest BLEU against its others
  (Devlin et al. 2015, "Exploring nearest neighbor approaches for image captioning").
* ``prior``: one caption for every image, ignoring it: the training caption that a word-bigram model of the
  training captions (add-one smoothing) finds most likely per word, ``max_c (1/|c|+1) log P(c <eos>)``.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import shutil
from collections import Counter
from collections.abc import Sequence

import torch
from torch import Tensor, nn

ORDERS = (1, 2, 3, 4)


def _content(text: str) -> str:
    """A tokenised caption without its punctuation marks (what BLEU compares)."""
    return " ".join(word for word in text.split() if any(ch.isalnum() for ch in word))


def _bleu_class() -> type:
    """sacrebleu's BLEU, or a one-line error naming the extra that brings it."""
    try:
        from sacrebleu.metrics import BLEU
    except ImportError:  # sacrebleu comes with the caption extra, not the core
        raise ValueError("scoring captions (BLEU) needs sacrebleu: pip install 'rnnkit[caption]'") from None
    return BLEU


def bleu_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]], prefix: str = "") -> dict[str, float]:
    """``{prefix}bleu1`` .. ``{prefix}bleu4`` (0-100) of space-tokenised hypotheses against every reference of their
    image (references may differ in number per image)."""
    BLEU = _bleu_class()
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} captions for {len(references)} images; expected one per image")
    count = max((len(refs) for refs in references), default=0)
    streams = [[_content(refs[k]) if k < len(refs) else None for refs in references] for k in range(count)]
    hypotheses = [_content(text) for text in hypotheses]
    return {f"{prefix}bleu{n}": BLEU(tokenize="none", force=True, max_ngram_order=n).corpus_score(
        list(hypotheses), streams).score for n in ORDERS}


def _coco(module: str, name: str) -> type:
    """A scorer class of pycocoevalcap, or a one-line error naming the extra that brings it."""
    try:
        return getattr(importlib.import_module(f"pycocoevalcap.{module}"), name)
    except ImportError:  # the caption-metrics extra, not the core
        raise ValueError(f"scoring captions ({name}) needs pycocoevalcap: "
                         "pip install 'rnnkit[caption-metrics]'") from None


def has_coco_metrics() -> bool:
    """Whether pycocoevalcap (CIDEr-D, METEOR) is installed."""
    return importlib.util.find_spec("pycocoevalcap") is not None


def _by_image(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> tuple[dict, dict]:
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} captions for {len(references)} images; expected one per image")
    if any(not refs for refs in references):
        raise ValueError("references: an image has no reference caption; expected at least one per image")
    return ({index: [_content(text) for text in refs] for index, refs in enumerate(references)},
            {index: [_content(text)] for index, text in enumerate(hypotheses)})


def cider_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]], prefix: str = "") -> dict[str, float]:
    """``{prefix}cider``: corpus CIDEr-D x 100 (see the module docstring) of space-tokenised hypotheses."""
    if not hypotheses:
        return {}
    truth, guesses = _by_image(hypotheses, references)
    score, _ = _coco("cider.cider", "Cider")().compute_score(truth, guesses)
    return {f"{prefix}cider": 100.0 * float(score)}


def meteor_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]],
                  prefix: str = "") -> dict[str, float]:
    """``{prefix}meteor``: corpus METEOR 1.5 x 100 of space-tokenised hypotheses (the toolkit's Java jar).

    Raises:
        ValueError: Without pycocoevalcap or ``java``, or when the jar fails (one line).
    """
    if not hypotheses:
        return {}
    truth, guesses = _by_image(hypotheses, references)
    Meteor = _coco("meteor.meteor", "Meteor")
    if shutil.which("java") is None:
        raise ValueError("METEOR: no 'java' on the PATH; the METEOR 1.5 jar needs a Java runtime (or leave "
                         "--meteor out)")
    scorer = Meteor()
    try:
        score, _ = scorer.compute_score(truth, guesses)
    except (ValueError, OSError) as error:  # the jar died (e.g. no memory for -Xmx2G): empty or broken output
        raise ValueError(f"METEOR: the Java scorer failed ({error}); expected it to run 'java -jar "
                         "meteor-1.5.jar'") from None
    finally:
        scorer.meteor_p.kill()
    return {f"{prefix}meteor": 100.0 * float(score)}


def caption_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]], prefix: str = "",
                   meteor: bool = False) -> dict[str, float]:
    """BLEU-1..4, CIDEr-D when pycocoevalcap is installed, and METEOR when asked (all 0-100)."""
    scores = bleu_scores(hypotheses, references, prefix)
    if has_coco_metrics():
        scores |= cider_scores(hypotheses, references, prefix)
    if meteor:
        scores |= meteor_scores(hypotheses, references, prefix)
    return scores


def prior_caption(references: Sequence[Sequence[str]]) -> str:
    """The training caption a word-bigram model of all training captions finds most likely per word."""
    captions = [text.split() for refs in references for text in refs]
    unigrams, bigrams = Counter(), Counter()
    for words in captions:
        padded = ["<bos>", *words, "<eos>"]
        unigrams.update(padded[:-1])
        bigrams.update(zip(padded[:-1], padded[1:], strict=False))
    size = len(unigrams) + 1

    def score(words: list[str]) -> float:
        padded = ["<bos>", *words, "<eos>"]
        return sum(math.log((bigrams[pair] + 1) / (unigrams[pair[0]] + size))
                   for pair in zip(padded[:-1], padded[1:], strict=False)) / (len(words) + 1)

    best = max(range(len(captions)), key=lambda index: (score(captions[index]), -index))
    return " ".join(captions[best])


@torch.no_grad()
def image_features(model: nn.Module, batches) -> Tensor:
    """The mean grid vector of each image ``(N, D)``, in the data's order, from ``(indices, (images, ...))``."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    rows: dict[int, Tensor] = {}
    for indices, (images, *_rest) in batches:
        features = model.encoder(images.to(device)).float().mean(dim=1).cpu()  # (B, D)
        rows.update(zip(indices, features, strict=True))
    model.train(was_training)
    return torch.stack([rows[index] for index in range(len(rows))])


def consensus(references: Sequence[str]) -> str:
    """Of one image's captions, the one with the highest sentence BLEU against the others."""
    BLEU = _bleu_class()

    if len(references) == 1:
        return references[0]
    metric = BLEU(tokenize="none", force=True, effective_order=True)
    scores = [metric.sentence_score(_content(text), [_content(other) for j, other in enumerate(references)
                                                     if j != i]).score for i, text in enumerate(references)]
    return references[max(range(len(references)), key=lambda i: (scores[i], -i))]


def nearest_captions(train_features: Tensor, train_references: Sequence[Sequence[str]],
                     test_features: Tensor) -> list[str]:
    """For each test image, the consensus caption of its nearest training image (cosine of the features)."""
    train = torch.nn.functional.normalize(train_features, dim=1)
    test = torch.nn.functional.normalize(test_features, dim=1)
    nearest = (test @ train.T).argmax(dim=1).tolist()  # (N_test,)
    chosen = {index: consensus(train_references[index]) for index in set(nearest)}
    return [chosen[index] for index in nearest]


__all__ = ["bleu_scores", "caption_scores", "cider_scores", "consensus", "has_coco_metrics", "image_features",
           "meteor_scores", "nearest_captions", "prior_caption"]
