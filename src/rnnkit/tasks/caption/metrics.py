r"""Caption scores and the two baselines a captioner must beat.

BLEU-n (n = 1..4) is sacrebleu's corpus BLEU with n-grams up to n, against all reference captions of each image,
on the task's own word tokens (lower-cased as the run reads captions) with punctuation marks dropped, as the
coco-caption toolkit's tokeniser does; sacrebleu's own tokenisation is off (``tokenize="none"``)::

    BLEU-n = BP * exp( (1/n) sum_{k<=n} log p_k ),   p_k: clipped k-gram precision over all references,
    BP = min(1, exp(1 - r / c)),  r: the reference lengths closest to each hypothesis, c: hypothesis length

Baselines (both honest: they use the training captions only, never the test references):

* ``nearest``: the caption of the training image nearest in the encoder's feature space (cosine of the mean grid
  vector); of that image's captions, the consensus one: the one with the highest BLEU against its others
  (Devlin et al. 2015, "Exploring nearest neighbor approaches for image captioning").
* ``prior``: one caption for every image, ignoring it: the training caption that a word-bigram model of the
  training captions (add-one smoothing) finds most likely per word, ``max_c (1/|c|+1) log P(c <eos>)``.
"""

from __future__ import annotations

import math
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


__all__ = ["bleu_scores", "consensus", "image_features", "nearest_captions", "prior_caption"]
