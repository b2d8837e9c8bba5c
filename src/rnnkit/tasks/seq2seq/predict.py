"""A trained translation model put to use: translate text, evaluate on a test set (BLEU, chrF), show attention.

Scores are sacrebleu's corpus BLEU and chrF on the model's own word tokens: the hypothesis tokens and the
reference, tokenised (and lower-cased, if the run lower-cases) the way the training data was, both joined by
spaces, with sacrebleu's own tokenisation off (``tokenize="none"``). This is the "tokenised, lower-cased BLEU"
of the encoder-decoder tutorials; it is not comparable with detokenised, cased SacreBLEU on WMT. A subword run
(``--tokenizer bpe|unigram``) is scored the same way on the word tokens of its detokenised translations, so word
and subword runs compare directly; ``detok_bleu`` / ``detok_chrf`` score the detokenised text itself against the
reference as written (lower-cased if the run lower-cases), with sacrebleu's own ``13a`` tokenisation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ...decode.beam import Decoded, beam_search, greedy_search
from ...models.seq2seq import Seq2Seq
from ...text import Vocab
from ...train.checkpoint import load_model_weights
from ..base import is_path_like
from ..export_graphs import export_seq2seq
from ..run_dir import describe_paths, read_run_config, run_settings
from .data import BOS, EOS, TranslationCorpusConfig, read_data
from .settings import SETTINGS, TASK_NAME, Seq2SeqTaskConfig
from .subword import SideTokenizers, run_tokenizers

DECODE_BATCH_SIZE = 64


class Seq2SeqPredictor:
    """The verbs of a translation run: :meth:`translate` (:meth:`translate_records` for the CLI),
    :meth:`evaluate`, :meth:`attention`, :meth:`plot_attention`."""

    task = TASK_NAME

    def __init__(self, model: Seq2Seq, source_vocab: Vocab, target_vocab: Vocab, corpus: TranslationCorpusConfig,
                 settings: Seq2SeqTaskConfig | None = None, tokenizers: SideTokenizers | None = None) -> None:
        self.model, self.source_vocab, self.target_vocab = model.eval(), source_vocab, target_vocab
        self.corpus, self.settings = corpus, settings or Seq2SeqTaskConfig()
        self.tokenizers = tokenizers if tokenizers is not None else SideTokenizers(corpus.tokenizer, corpus.tokenizer)
        self.tokenizer = self.tokenizers.source  # what the encoder reads
        self.words = corpus.tokenizer  # word tokens: what BLEU and chrF count, whatever the model's pieces
        self.device = next(model.parameters()).device
        self.bos_id, self.eos_id = target_vocab.stoi[BOS], target_vocab.stoi[EOS]
        self.banned = (target_vocab.pad_id, self.bos_id)

    @classmethod
    def load(cls, run_dir: Path, device: str = "cpu") -> Seq2SeqPredictor:
        """Rebuild the model of a run directory from its config, vocabularies and weights (no pickle)."""
        run_dir = Path(run_dir)
        config = read_run_config(run_dir, TASK_NAME)
        sections = run_settings(run_dir, config, {name: SETTINGS[name] for name in ("corpus", "model", "seq2seq")})
        corpus, model_config, settings = sections["corpus"], sections["model"], sections["seq2seq"]
        source_vocab = Vocab.load(run_dir / "source_vocab.json")
        target_vocab = Vocab.load(run_dir / "target_vocab.json")
        model = Seq2Seq(len(source_vocab), len(target_vocab), model_config, source_vocab.pad_id, target_vocab.pad_id)
        load_model_weights(run_dir / "model.safetensors", model)
        return cls(model.to(device), source_vocab, target_vocab, corpus, settings, run_tokenizers(run_dir, corpus))

    def source_tokens(self, text: str, truncate: bool = False, where: str = "text") -> list[str]:
        """The tokens the encoder reads; a source over the run's ``max_length`` is cut or refused."""
        tokens = self.tokenizer.tokenize(text)
        if not tokens:
            raise ValueError(f"{where}: got {text!r}, which has no tokens; expected a sentence to translate")
        limit = self.corpus.max_length
        if len(tokens) > limit:
            if not truncate:
                raise ValueError(f"{where}: {len(tokens)} tokens; the model takes at most {limit} (max_length); "
                                 "pass --truncate to cut longer sources")
            tokens = tokens[:limit]
        return tokens

    def decode_tokens(self, token_lists: Sequence[list[str]], beam_size: int | None = None,
                      batch_size: int = DECODE_BATCH_SIZE) -> list[tuple[list[str], float, bool]]:
        """Translate tokenised sources; returns (target tokens, score, ended with <eos>) per source, in order."""
        beam_size = self.settings.beam_size if beam_size is None else beam_size
        if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
            raise ValueError(f"beam: got {beam_size!r}; expected a positive integer")
        order = sorted(range(len(token_lists)), key=lambda i: len(token_lists[i]), reverse=True)
        results: list[Any] = [None] * len(token_lists)
        settings = self.settings
        options = dict(max_length_ratio=settings.max_length_ratio, max_length_offset=settings.max_length_offset,
                       banned=self.banned)
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                ids = [self.source_vocab.encode(token_lists[i]) for i in chunk]
                lengths = torch.tensor([len(row) for row in ids])
                source = torch.full((len(ids), int(lengths.max())), self.source_vocab.pad_id, dtype=torch.long)
                for row, sequence in enumerate(ids):
                    source[row, : len(sequence)] = torch.tensor(sequence)
                source = source.to(self.device)
                if beam_size == 1:
                    decoded: Decoded = greedy_search(self.model, source, lengths, self.bos_id, self.eos_id, **options)
                else:
                    decoded = beam_search(self.model, source, lengths, self.bos_id, self.eos_id, beam_size=beam_size,
                                          length_penalty=self.settings.length_penalty, **options)
                outputs = zip(chunk, decoded.tokens, decoded.scores, decoded.finished, strict=True)
                for i, tokens, score, ended in outputs:
                    results[i] = (self.target_vocab.decode(tokens), score, ended)
        return results

    def translate(self, texts: str | Sequence[str], beam_size: int | None = None, truncate: bool = False,
                  batch_size: int = DECODE_BATCH_SIZE) -> dict[str, Any] | list[dict[str, Any]]:
        """Translate one text (returns a dict) or several (a list): ``source``, ``translation``, ``tokens``, ``score``.

        Args:
            texts: a sentence, or a list of sentences.
            beam_size: beam width (1: greedy); default the run's ``beam_size``.
            truncate: cut a source longer than the run's ``max_length`` instead of raising ValueError.
            batch_size: sentences decoded together.
        """
        single = isinstance(texts, str)
        items = [texts] if single else list(texts)
        records = self.translate_records([(f"text {number}", text) for number, text in enumerate(items, 1)],
                                         beam_size, truncate, batch_size)
        return records[0] if single else records

    def translate_records(self, texts: Sequence[tuple[str, str]], beam_size: int | None = None,
                          truncate: bool = False, batch_size: int = DECODE_BATCH_SIZE,
                          plot: Path | None = None) -> list[dict[str, Any]]:
        """``rnnkit translate``: translate ``(where, text)`` pairs; a record per text, as :meth:`translate` gives.

        Every source is checked before any is decoded (an error names its ``where``: "TEXT argument 2",
        "in.txt line 7"). With ``plot``, the attention of the first translation is drawn there (.png, .pdf or
        .svg) and its record gets ``"plot": str(plot)``.
        """
        tokens = [self.source_tokens(text, truncate, where) for where, text in texts]  # all checked first
        decoded = self.decode_tokens(tokens, beam_size, batch_size)
        records = [{"source": text, "translation": self.tokenizers.target.detokenize(target), "tokens": target,
                    "score": score, "complete": ended}
                   for (_, text), (target, score, ended) in zip(texts, decoded, strict=True)]
        if plot is not None and records:
            from .plots import plot_attention_heatmap

            source, target, weights = self.attention(texts[0][1], records[0]["tokens"], truncate=truncate)
            plot_attention_heatmap(source, target, weights, Path(plot))
            records[0]["plot"] = str(plot)
        return records

    def evaluate(self, data: Any, beam_size: int | None = None, truncate: bool = False,
                 batch_size: int = DECODE_BATCH_SIZE, detokenized: bool | None = None) -> dict[str, Any]:
        """Translate the pairs of ``data`` and score them: corpus BLEU and chrF (sacrebleu), sentences, and
        decoding sentences per second.

        Args:
            data: a path read as the run's training data (a TSV, or a parallel-file prefix), or (source, target)
                string pairs in memory.
            beam_size: beam width (1: greedy); default the run's ``beam_size``.
            truncate: cut a source longer than the run's ``max_length`` instead of raising ValueError.
            batch_size: sentences decoded together.
            detokenized: also score the detokenised text (``detok_bleu``, ``detok_chrf``; see the module
                docstring); default: for subword runs only.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: got {batch_size!r}; expected a positive integer")
        pairs = read_data(data, self.corpus, "data")
        place = f"{describe_paths(data)} line" if is_path_like(data) else "data item"  # read_data took one path
        sources = [self.source_tokens(pair.source, truncate, f"{place} {pair.line}") for pair in pairs]
        started = time.perf_counter()
        decoded = self.decode_tokens(sources, beam_size, batch_size)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - started
        texts = [self.tokenizers.target.detokenize(tokens) for tokens, _, _ in decoded]
        hypotheses = [" ".join(self.words.tokenize(text) if self.tokenizers.subword else tokens)
                      for text, (tokens, _, _) in zip(texts, decoded, strict=True)]
        references = [" ".join(self.words.tokenize(pair.target)) for pair in pairs]
        scores = corpus_scores(hypotheses, references)
        if detokenized is None:
            detokenized = self.tokenizers.subword
        if detokenized:
            scores |= self.detokenized_scores(texts, pairs)
        beam = self.settings.beam_size if beam_size is None else beam_size
        return {**scores, "sentences": len(pairs), "beam": beam, "sentences_per_second": len(pairs) / seconds,
                "seconds": seconds}

    def detokenized_scores(self, texts: Sequence[str], pairs: Sequence[Any]) -> dict[str, float]:
        """BLEU and chrF of detokenised translations against the references as written (lower-cased when the
        run lower-cases), tokenised by sacrebleu (13a)."""
        written = [pair.target.lower() if self.corpus.lower else pair.target for pair in pairs]
        scores = corpus_scores(texts, written, tokenize="13a")
        return {"detok_bleu": scores["bleu"], "detok_chrf": scores["chrf"]}

    def attention(self, text: str, translation: Sequence[str] | None = None, beam_size: int | None = None,
                  truncate: bool = False) -> tuple[list[str], list[str], torch.Tensor]:
        """Source tokens, target tokens (the model's translation unless given) and attention ``(T, S)``.

        The weights are those of the decoder reading the translation (forced decoding, eval mode: the same
        weights the search saw along that output); row t is what the decoder looked at to emit target token t
        (the last row, for ``<eos>``).
        """
        if self.model.attention is None:
            raise ValueError("this model has no attention (attention 'none': a fixed context vector); "
                             "expected a run trained with --attention additive, dot or general")
        source = self.source_tokens(text, truncate)
        target = list(translation) if translation is not None else self.decode_tokens([source], beam_size)[0][0]
        source_ids = torch.tensor([self.source_vocab.encode(source)], device=self.device)
        inputs = torch.tensor([[self.bos_id, *self.target_vocab.encode(target)]], device=self.device)
        with torch.no_grad():
            _, weights = self.model(source_ids, torch.tensor([len(source)]), inputs)
        return source, [*target, EOS], weights[0].float().cpu()  # (T+1, S)

    def plot_attention(self, text: str, path: Path, beam_size: int | None = None, truncate: bool = False) -> Path:
        """Draw the attention of one translation as a heatmap (target rows, source columns) into ``path``."""
        from .plots import plot_attention_heatmap

        source, target, weights = self.attention(text, beam_size=beam_size, truncate=truncate)
        return plot_attention_heatmap(source, target, weights, Path(path))

    def export(self, path: str | os.PathLike[str], format: str = "onnx") -> Path:
        """Write the model as one graph for any batch size, length and lengths, with a JSON sidecar.

        Args:
            path: the file to write (``.onnx`` or ``.pt2``; the suffix is added when missing).
            format: ``"onnx"`` (needs ``pip install rnnkit[export]``) or ``"pt2"`` (``torch.export``; a zip with
                pickled parts: load only your own files).

        Returns:
            The sidecar ``<path>.json``: the graph's inputs and outputs (names, shapes, dtypes) and the
            vocabularies and decoding settings (two graphs: encoder and decoder_step).
        """
        return export_seq2seq(self, path, format)


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str], tokenize: str = "none") -> dict[str, float]:
    """sacrebleu corpus BLEU and chrF of hypotheses against one reference each: space-tokenised already
    (``tokenize="none"``), or detokenised text that sacrebleu tokenises (``"13a"``)."""
    try:
        from sacrebleu.metrics import BLEU, CHRF
    except ImportError:  # sacrebleu is the translate extra, not a core dependency
        raise ValueError("scoring translations (BLEU, chrF) needs sacrebleu: pip install 'rnnkit[translate]'") from None
    bleu_metric, chrf_metric = BLEU(tokenize=tokenize, force=True), CHRF()  # force: tokenised on purpose
    bleu = bleu_metric.corpus_score(list(hypotheses), [list(references)])
    chrf = chrf_metric.corpus_score(list(hypotheses), [list(references)])
    return {"bleu": bleu.score, "chrf": chrf.score, "bleu_signature": str(bleu_metric.get_signature()),
            "chrf_signature": str(chrf_metric.get_signature())}


__all__ = ["Seq2SeqPredictor", "corpus_scores"]
