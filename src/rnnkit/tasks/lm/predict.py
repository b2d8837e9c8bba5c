"""A trained language model put to use: score text, generate text, evaluate on a file.

    P(x_1 .. x_T) = prod_t P(x_t | x_<t),   log P = sum_t log P(x_t | x_<t),   perplexity = exp(-log P / T)

The first token is conditioned on a start context: a newline at char level, ``<eos>`` at word level (the
boundary the model saw between lines in training).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ...data.corpus import CorpusConfig, context_token, encode_text, join_tokens, tokens_of
from ...data.limits import check_count
from ...data.readers.text import read_text
from ...data.streams import batchify
from ...decode.generate import sample_continuations
from ...decode.sampling import sampling_rule
from ...decode.steps import LanguageModelStep
from ...models import LanguageModel, LanguageModelConfig
from ...text import Vocab, pad_sequences
from ...text.subword import SubwordTokenizer
from ...train.checkpoint import load_model_weights
from ..export_graphs import export_language_model
from ..run_dir import read_run_config, run_settings
from .data import NAME, stream_loss, text_metrics
from .stream import LanguageModelStream


class LanguageModelPredictor:
    """The verbs of a language-model run: :meth:`score`, :meth:`generate`, :meth:`evaluate`."""

    task = NAME

    def __init__(self, model: LanguageModel, vocab: Vocab, corpus: CorpusConfig, bptt: int = 64,
                 segmenter: SubwordTokenizer | None = None) -> None:
        self.model, self.vocab, self.corpus, self.bptt = model.eval(), vocab, corpus, bptt
        self.segmenter = segmenter  # a subword run's pieces (tokenizer.json)
        self.device = next(model.parameters()).device

    @classmethod
    def load(cls, run_dir: Path, device: str = "cpu") -> LanguageModelPredictor:
        """Rebuild the model of a run directory from its config, vocabulary and weights (no pickle)."""
        config = read_run_config(run_dir, NAME)
        settings = run_settings(run_dir, config, {"corpus": CorpusConfig, "model": LanguageModelConfig})
        corpus, model_config = settings["corpus"], settings["model"]
        bptt = config["train"].get("bptt", 64) if isinstance(config.get("train"), dict) else 64
        vocab = Vocab.load(Path(run_dir) / "vocab.json")
        model = LanguageModel(len(vocab), model_config)
        load_model_weights(Path(run_dir) / "model.safetensors", model)
        segmenter = SubwordTokenizer.load(Path(run_dir) / "tokenizer.json") if corpus.subword != "none" else None
        return cls(model.to(device), vocab, corpus, bptt=bptt, segmenter=segmenter)

    def _ids(self, tokens: list[str]) -> torch.Tensor:
        return torch.tensor([self.vocab.encode(tokens)], dtype=torch.long, device=self.device)  # (1, T)

    @torch.no_grad()
    def score(self, text: str) -> dict[str, Any]:
        """Per-token log-probabilities (natural log), log P(text) and perplexity of one text."""
        tokens = tokens_of(text, self.corpus, self.segmenter)
        if not tokens:
            raise ValueError(f"text: got {text!r}, which has no tokens at level {self.corpus.level!r}")
        inputs = self._ids([context_token(self.corpus), *tokens[:-1]])
        targets = self._ids(tokens)
        logits, _ = self.model(inputs)  # (1, T, V)
        log_probs = F.log_softmax(logits.float(), dim=-1).gather(2, targets.unsqueeze(2))[0, :, 0]  # (T,)
        token_logprobs = log_probs.tolist()
        total = math.fsum(token_logprobs)  # the sum of the values reported, not a float32 sum that differs
        return {"text": text, "tokens": tokens, "token_logprobs": token_logprobs,
                "logprob": total, "perplexity": math.exp(-total / len(tokens))}

    @torch.no_grad()
    def generate(self, prompt: str = "", length: int = 200, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, seed: int | None = None) -> str:
        """Continue ``prompt`` by ``length`` sampled tokens; returns prompt + continuation."""
        return self.generate_batch([prompt], length, temperature, top_k, top_p, seed)[0]

    @torch.no_grad()
    def generate_batch(self, prompts: list[str], length: int = 200, temperature: float = 1.0,
                       top_k: int | None = None, top_p: float | None = None, seed: int | None = None) -> list[str]:
        """Continue every prompt of ``prompts`` by ``length`` sampled tokens, all decoded together.

        The prompts may have different lengths: each is read up to its own last token (one padded batch through
        the model's layers), then the continuations are drawn step by step with the model's step function
        (:func:`rnnkit.decode.step_function`). Greedy decoding (``temperature=0``) gives the texts that
        :meth:`generate` gives one by one; sampled texts depend on the seed and on the batch.
        """
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"length: got {length!r}; expected a positive integer")
        check_count("length", length, "RNNKIT_MAX_GENERATE_LENGTH", " tokens")
        if isinstance(prompts, str) or not prompts:
            raise ValueError(f"prompts: got {prompts!r}; expected a non-empty list of texts")
        choose = sampling_rule(temperature, top_k, top_p)
        contexts = [[context_token(self.corpus), *self._prompt_tokens(prompt, index, len(prompts))]
                    for index, prompt in enumerate(prompts)]
        ids, lengths = pad_sequences([self.vocab.encode(tokens) for tokens in contexts], pad_id=0)
        generator = torch.Generator(device=self.device)
        if seed is None:
            generator.seed()  # fresh randomness for this generator only (torch.seed() reseeds the global RNG)
        else:
            generator.manual_seed(seed)
        banned = [i for i in (self.vocab.stoi.get("<pad>"), self.vocab.stoi.get("<unk>")) if i is not None]
        stepper = LanguageModelStep(self.model, banned)
        ragged = bool(len(set(lengths.tolist())) > 1)
        logits, state = stepper.prefill(ids.to(self.device), lengths if ragged else None)  # (B, V)
        tokens = sample_continuations(stepper, logits, state, length, choose, generator).tolist()  # (B, length)
        texts = []
        for prompt, row in zip(prompts, tokens, strict=True):
            separator = " " if self.corpus.level == "word" and prompt and not prompt.endswith(("\n", " ")) else ""
            texts.append(prompt + separator + join_tokens(self.vocab.decode(row), self.corpus, self.segmenter))
        return texts

    def _prompt_tokens(self, prompt: str, index: int, count: int) -> list[str]:
        tokens = tokens_of(prompt, self.corpus, self.segmenter)
        if self.corpus.level == "word" and tokens and not prompt.endswith("\n"):
            tokens = tokens[:-1]  # continue the prompt's line rather than start a new one
        if tokens and all(t not in self.vocab for t in tokens):
            where = "prompt" if count == 1 else f"prompts[{index}]"
            raise ValueError(f"{where}: got {prompt!r}, whose tokens are all unknown to the model's vocabulary")
        return tokens

    def stream(self, top_k: int = 5, log_probs: bool = False) -> LanguageModelStream:
        """A stream fed text piece by piece: per token its log-probability, the running log P and perplexity,
        and the next-token distribution (see :class:`~rnnkit.tasks.lm.stream.LanguageModelStream`)."""
        return LanguageModelStream(self, top_k=top_k, log_probs=log_probs)

    @torch.no_grad()
    def evaluate(self, path: Path, batch_size: int = 1) -> dict[str, float]:
        """Loss, perplexity and bits per token (or character) of a text file.

        With ``batch_size`` 1 the text is read as one stream, the state carried from start to end (the
        convention of published perplexities); more streams are faster but start that many times from zero.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: got {batch_size!r}; expected a positive integer")
        ids = encode_text(read_text(path, self.corpus.encoding), self.vocab, self.corpus, self.segmenter)
        if len(ids) < 2:
            raise ValueError(f"{path}: holds {len(ids)} token(s) at level {self.corpus.level!r}; expected at "
                             "least 2 to evaluate a language model on")
        streams = batchify(ids, max(1, min(batch_size, len(ids) // 2))).to(self.device)
        metrics = text_metrics(*stream_loss(self.model, streams, self.bptt), "test", self.corpus.level)
        return {key.removeprefix("test_"): value for key, value in metrics.items()} | {"tokens": int(streams.numel())}

    def export(self, path: str | os.PathLike[str], format: str = "onnx") -> Path:
        """Write the model as one graph for any batch size, length and lengths, with a JSON sidecar.

        Args:
            path: the file to write (``.onnx`` or ``.pt2``; the suffix is added when missing).
            format: ``"onnx"`` (needs ``pip install rnnkit[export]``) or ``"pt2"`` (``torch.export``; a zip with
                pickled parts: load only your own files).

        Returns:
            The sidecar ``<path>.json``: the graph's inputs and outputs (names, shapes, dtypes) and the vocabulary.
        """
        return export_language_model(self, path, format)
