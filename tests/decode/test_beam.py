"""Greedy and beam search: beam 1 is greedy exactly, a wider beam finds hypotheses at least as likely, the
length limit and <eos> are honoured, and a model with a known distribution decodes to the known best."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from rnnkit.decode.beam import beam_search, greedy_search, max_lengths
from rnnkit.models.seq2seq import Encoded, Seq2Seq, Seq2SeqConfig

PAD, UNK, BOS, EOS = 0, 1, 2, 3


def _sources(seed: int, count: int = 12):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 8, (count,), generator=generator)
    source = torch.randint(2, 11, (count, 7), generator=generator)
    source[torch.arange(7) >= lengths.unsqueeze(1)] = PAD
    return source, lengths


def _model(attention: str, seed: int) -> Seq2Seq:
    torch.manual_seed(seed)
    config = Seq2SeqConfig(cell="lstm" if seed % 2 else "gru", embedding_size=8, hidden_size=8, num_layers=2,
                           bidirectional=attention != "dot", attention=attention, dropout=0.0)
    return Seq2Seq(11, 7, config).eval()


@pytest.mark.parametrize("attention", ["none", "additive", "dot", "general"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_size_one_equals_greedy(attention, seed):
    model = _model(attention, seed)
    source, lengths = _sources(seed)
    greedy = greedy_search(model, source, lengths, BOS, EOS, banned=(PAD, BOS))
    beam = beam_search(model, source, lengths, BOS, EOS, beam_size=1, banned=(PAD, BOS))
    assert beam.tokens == greedy.tokens
    assert beam.finished == greedy.finished
    for tokens, score, beam_score, ended in zip(greedy.tokens, greedy.scores, beam.scores, beam.finished,
                                                strict=True):
        length = len(tokens) + (1 if ended else 0)  # beam scores are normalised per token, <eos> included
        assert beam_score == pytest.approx(score / length, rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_wider_beam_finds_hypotheses_at_least_as_likely(seed):
    model = _model("additive", seed)
    source, lengths = _sources(seed + 10)
    greedy = greedy_search(model, source, lengths, BOS, EOS, banned=(PAD, BOS))
    wide = beam_search(model, source, lengths, BOS, EOS, beam_size=6, length_penalty=0.0, banned=(PAD, BOS))
    for greedy_score, wide_score, ended in zip(greedy.scores, wide.scores, greedy.finished, strict=True):
        if ended:
            assert wide_score >= greedy_score - 1e-5


def test_length_limit_and_banned_tokens():
    model = _model("general", 0)
    source, lengths = _sources(3)
    limits = max_lengths(lengths, 0.5, 1)
    for decoded in (greedy_search(model, source, lengths, BOS, EOS, max_length_ratio=0.5, max_length_offset=1,
                                  banned=(PAD, BOS)),
                    beam_search(model, source, lengths, BOS, EOS, beam_size=3, max_length_ratio=0.5,
                                max_length_offset=1, banned=(PAD, BOS))):
        for tokens, limit, ended in zip(decoded.tokens, limits.tolist(), decoded.finished, strict=True):
            assert len(tokens) + (1 if ended else 0) <= limit
            assert PAD not in tokens and BOS not in tokens and EOS not in tokens
    with pytest.raises(ValueError, match="beam_size: got 0"):
        beam_search(model, source, lengths, BOS, EOS, beam_size=0)


class ScriptedModel(nn.Module):
    """A decoder whose next-token distribution depends only on the previous token (a fixed bigram table)."""

    def __init__(self, table: Tensor) -> None:
        super().__init__()
        self.table = table.log()  # (V, V): log P(next | previous)

    def encode(self, source: Tensor, lengths: Tensor):
        lengths = torch.as_tensor(lengths)
        return Encoded(None, None, lengths), torch.zeros(1, source.shape[0], 1)

    def step(self, tokens: Tensor, state: Tensor, encoded: Encoded):
        return tokens, state, None

    def logits(self, tokens: Tensor) -> Tensor:
        return self.table[tokens]


def test_beam_finds_the_better_sequence_greedy_misses():
    # from <bos>: token 4 (0.6) or 5 (0.4); after 4 everything is uncertain, after 5 <eos> is certain:
    # greedy takes 4 and ends with P = 0.6 * 0.34 * ..., beam sees 5 <eos> with P = 0.4 * 1.0
    V = 6
    table = torch.full((V, V), 1e-9)
    table[BOS, 4], table[BOS, 5] = 0.6, 0.4
    table[4, EOS], table[4, 4], table[4, 5] = 0.34, 0.33, 0.33
    table[5, EOS] = 1.0
    table[EOS, EOS] = 1.0
    table = table / table.sum(dim=1, keepdim=True)
    model = ScriptedModel(table)
    source, lengths = torch.ones(1, 3, dtype=torch.long), torch.tensor([3])
    greedy = greedy_search(model, source, lengths, BOS, EOS, banned=(PAD, BOS))
    assert greedy.tokens == [[4]] and greedy.finished == [True]
    beam = beam_search(model, source, lengths, BOS, EOS, beam_size=2, length_penalty=0.0, banned=(PAD, BOS))
    assert beam.tokens == [[5]]
    assert beam.scores[0] == pytest.approx(math.log(0.4), abs=1e-5)
