"""Dinucleotide-preserving shuffle: a random sequence with exactly the same dinucleotide (2-let) counts.

The negatives of DeepBind (Alipanahi et al. 2015) and deepRAM (Trabelsi et al. 2019) are the positives shuffled
this way, so a model cannot tell them apart by base or dinucleotide composition and must learn motifs. The
algorithm is Altschul & Erickson (1985) as made exact and uniform by Kandel et al. (1996) and used by uShuffle
(Jiang et al. 2008): a sequence ``s`` of length n is an Eulerian path through the multigraph with one vertex per
letter and one edge ``s[i] -> s[i+1]`` per dinucleotide; every Eulerian path from ``s[0]`` gives a sequence with
the same dinucleotide counts, the same first letter and the same last letter. A uniformly random one::

    1. last edges: for every letter u != s[-1] that has out-edges, choose its *last* exit edge so that the last
       edges form a tree directed towards s[-1] (Wilson's loop-erased random walk: a uniformly random tree,
       each edge drawn with its multiplicity)
    2. for every letter, shuffle its other out-edges uniformly, and put the last edge at the end
    3. walk from s[0], always taking the next unused out-edge of the current letter

Step 1 guarantees the walk never gets stuck before using every edge (the BEST theorem argument).

The pip package ``ushuffle`` (a Cython wrapper of uShuffle) does k-let shuffles too, but its last release is of
2020, it ships no wheel (a C build at install) and it keeps its random state in a C global; this module is a
few lines of Python with a ``random.Random`` per call, so the negatives are reproducible from a seed.
"""

from __future__ import annotations

import random
from collections import Counter

__all__ = ["dinucleotide_counts", "dinucleotide_shuffle"]


def dinucleotide_counts(sequence: str) -> Counter[str]:
    """How often each overlapping 2-let occurs: ``"ACAC"`` -> ``{"AC": 2, "CA": 1}``."""
    return Counter(sequence[i : i + 2] for i in range(len(sequence) - 1))


def dinucleotide_shuffle(sequence: str, rng: random.Random) -> str:
    """A uniformly random sequence with the dinucleotide counts, first and last letter of ``sequence``.

    Any letters work (``N`` is a letter like the others); sequences shorter than 3 come back unchanged, as their
    dinucleotides fix them.

    Args:
        sequence: the sequence to shuffle.
        rng: the random source (``random.Random(seed)`` for a reproducible shuffle).
    """
    if len(sequence) < 3:
        return sequence
    exits: dict[str, list[str]] = {}  # letter -> the letters that follow it, one entry per dinucleotide
    for first, second in zip(sequence, sequence[1:], strict=False):
        exits.setdefault(first, []).append(second)
    end = sequence[-1]
    last_exit = _random_arborescence(exits, end, rng)
    for letter, followers in exits.items():
        if letter in last_exit:
            followers.remove(last_exit[letter])  # one instance of the tree edge, kept for the end
            rng.shuffle(followers)
            followers.append(last_exit[letter])
        else:
            rng.shuffle(followers)
    used = dict.fromkeys(exits, 0)
    letters = [sequence[0]]
    for _ in range(len(sequence) - 1):
        current = letters[-1]
        letters.append(exits[current][used[current]])
        used[current] += 1
    return "".join(letters)


def _random_arborescence(exits: dict[str, list[str]], root: str, rng: random.Random) -> dict[str, str]:
    """For each letter with out-edges other than ``root``, the target of its last edge: a random tree to ``root``.

    Wilson's algorithm: a random walk from each letter not yet in the tree (each step a uniformly random out-edge,
    so multiplicities count) until it meets the tree; the last exit of each letter visited is kept, which erases
    the walk's loops; then the loop-free path joins the tree.
    """
    in_tree = {root}
    following: dict[str, str] = {}
    for start in sorted(exits):
        letter = start
        while letter not in in_tree:
            following[letter] = rng.choice(exits[letter])
            letter = following[letter]
        letter = start
        while letter not in in_tree:
            in_tree.add(letter)
            letter = following[letter]
    return {letter: following[letter] for letter in exits if letter != root}
