"""Long-range dependency tasks, generated on the fly from a seed.

Each generator returns a :class:`LongDepData`: inputs, targets and how they are scored. The same
``(num_sequences, length, seed)`` gives the same tensors on every machine (a private ``torch.Generator``).

* **adding** (Hochreiter & Schmidhuber 1997; in the form of Le et al. 2015): two channels per step, a value
  ``U(0, 1)`` and a marker; one marker falls in the first half, one in the second; the target is the sum of the
  two marked values. Always answering 1.0 scores ``E[(s - 1)^2] = Var(u_1 + u_2) = 2/12 ~ 0.167``.
* **copy** (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016)::

      input   a b c ... (10 symbols)  _ _ _ ... (delay - 1 blanks)  :  _ _ _ ... (10 blanks)
      target  . . . ...               . . . ...                      .  a b c ...

  symbols ``1..8``, blank ``0``, the go marker ``9``; only the 10 recalled symbols are scored (``.`` is ignored).
* **recall** (delayed recall): a symbol, ``length - 2`` distractor symbols from a separate alphabet, a query
  marker; the target is the first symbol. Chance is ``1 / symbols``.
* **tickets**: a language-model task, ``ticket X w w w ... w ? X``: the model reads word tokens and predicts each
  next one; only the final ``X`` (seen ``length - 3`` tokens earlier) is scored.
* **digits**: sklearn's bundled 8x8 handwritten digits read pixel by pixel (64 steps, one grey value per step),
  classified after the last pixel; a seeded 80/20 split.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

TASKS = ("adding", "copy", "recall", "tickets", "digits")
IGNORE = -100  # target of a position that is not scored (as torch's cross_entropy ignore_index)
COPY_LENGTH = 10  # symbols to copy
DIGITS_LENGTH = 64  # 8 x 8 pixels


@dataclass(frozen=True)
class LongDepData:
    """A batch of a long-range task.

    Attributes:
        inputs: ``(N, T, F)`` float features, or ``(N, T)`` integer token ids (one-hot encoded by the model).
        targets: ``(N,)`` float for ``"regression"``, ``(N,)`` class ids for ``"classify"`` (both read at the
            last step), or ``(N, T)`` class ids for ``"sequence"`` (``IGNORE`` where not trained on).
        kind: ``"regression"``, ``"classify"`` or ``"sequence"``.
        input_size: F, or the number of token ids.
        output_size: 1 for regression, else the number of classes.
        scored: ``(N, T)`` bool, for ``"sequence"``: the positions the success metric counts (the others may
            still be trained on, as every next token of a language model).
    """

    inputs: Tensor
    targets: Tensor
    kind: str
    input_size: int
    output_size: int
    scored: Tensor | None = None

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def take(self, index: Tensor) -> LongDepData:
        """The sequences at ``index`` (a LongTensor of rows)."""
        scored = None if self.scored is None else self.scored[index]
        return LongDepData(self.inputs[index], self.targets[index], self.kind, self.input_size, self.output_size,
                           scored)


def check_length(length: int, minimum: int = 2, name: str = "length") -> int:
    """``length`` as an int, or a ValueError saying what was expected."""
    if isinstance(length, bool) or not isinstance(length, int) or length < minimum:
        raise ValueError(f"{name}: got {length!r}; expected an integer >= {minimum}")
    return length


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _check_count(num_sequences: int) -> None:
    check_length(num_sequences, 1, "num_sequences")


def adding_problem(num_sequences: int, length: int, seed: int) -> LongDepData:
    """The adding problem: inputs ``(N, T, 2)`` (value, marker), targets ``(N,)`` the sum of the marked values."""
    _check_count(num_sequences)
    check_length(length)
    generator = _generator(seed)
    values = torch.rand(num_sequences, length, generator=generator)  # (N, T)
    half = length // 2
    first = torch.randint(0, half, (num_sequences,), generator=generator)
    second = torch.randint(half, length, (num_sequences,), generator=generator)
    markers = torch.zeros(num_sequences, length)
    rows = torch.arange(num_sequences)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    return LongDepData(torch.stack([values, markers], dim=2), targets, "regression", 2, 1)


def copy_task(num_sequences: int, delay: int, seed: int, symbols: int = 8) -> LongDepData:
    """The copy task: 10 symbols, ``delay - 1`` blanks, a go marker, then the 10 symbols to be reproduced.

    Token ids: 0 blank, ``1..symbols`` the symbols, ``symbols + 1`` the go marker. Length ``delay + 20``.
    """
    _check_count(num_sequences)
    check_length(delay, 1, "delay")
    generator = _generator(seed)
    data = torch.randint(1, symbols + 1, (num_sequences, COPY_LENGTH), generator=generator)  # (N, 10)
    length = delay + 2 * COPY_LENGTH
    inputs = torch.zeros(num_sequences, length, dtype=torch.long)
    inputs[:, :COPY_LENGTH] = data
    inputs[:, COPY_LENGTH + delay - 1] = symbols + 1
    targets = torch.full((num_sequences, length), IGNORE, dtype=torch.long)
    targets[:, -COPY_LENGTH:] = data
    return LongDepData(inputs, targets, "sequence", symbols + 2, symbols + 1, targets != IGNORE)


def delayed_recall(num_sequences: int, length: int, seed: int, symbols: int = 8) -> LongDepData:
    """Delayed recall: a symbol, ``length - 2`` distractors, a query; the target is the first symbol.

    Token ids: ``0..symbols-1`` the symbols to remember, ``symbols..2*symbols-1`` distractors, ``2*symbols``
    the query marker. The class is the first token's id.
    """
    _check_count(num_sequences)
    check_length(length, 3)
    generator = _generator(seed)
    first = torch.randint(0, symbols, (num_sequences,), generator=generator)
    distractors = torch.randint(symbols, 2 * symbols, (num_sequences, length - 2), generator=generator)
    query = torch.full((num_sequences, 1), 2 * symbols, dtype=torch.long)
    inputs = torch.cat([first.unsqueeze(1), distractors, query], dim=1)  # (N, T)
    return LongDepData(inputs, first, "classify", 2 * symbols + 1, symbols)


TICKET_WORDS = ("the", "a", "man", "woman", "dog", "saw", "took", "park", "train", "bag", "and", "then",
                "went", "to", "home", "quickly", "old", "red", "station", "left")


def tickets_vocabulary(num_tickets: int = 10) -> list[str]:
    """The token strings of the tickets task, indexed by id: words, ticket numbers, ``ticket`` and ``?``."""
    return [*TICKET_WORDS, *(f"#{number}" for number in range(num_tickets)), "ticket", "?"]


def tickets_task(num_sequences: int, length: int, seed: int, num_tickets: int = 10) -> LongDepData:
    """``ticket X w w ... w ? X`` as next-token prediction; only the final ``X`` is scored.

    Inputs are the first ``length`` tokens, targets the same tokens shifted by one (every position is trained,
    as in a language model); the ticket ``X`` must be carried across ``length - 3`` distractor words.
    """
    _check_count(num_sequences)
    check_length(length, 4)
    generator = _generator(seed)
    words = len(TICKET_WORDS)
    ticket_marker, query = words + num_tickets, words + num_tickets + 1
    tickets = words + torch.randint(0, num_tickets, (num_sequences, 1), generator=generator)
    filler = torch.randint(0, words, (num_sequences, length - 3), generator=generator)
    marker = torch.full((num_sequences, 1), ticket_marker, dtype=torch.long)
    question = torch.full((num_sequences, 1), query, dtype=torch.long)
    tokens = torch.cat([marker, tickets, filler, question, tickets], dim=1)  # (N, T + 1)
    scored = torch.zeros(num_sequences, length, dtype=torch.bool)
    scored[:, -1] = True
    vocabulary_size = query + 1
    return LongDepData(tokens[:, :-1], tokens[:, 1:], "sequence", vocabulary_size, vocabulary_size, scored)


def load_digit_images() -> tuple[Tensor, Tensor]:
    """sklearn's bundled 8x8 digits: images ``(1797, 64)`` scaled to [0, 1] and labels ``(1797,)``.

    Raises:
        ValueError: scikit-learn is not installed (``pip install 'rnnkit[analysis]'``).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ValueError("task 'digits': needs scikit-learn, which is not installed; expected "
                         "`pip install scikit-learn` (or the 'analysis' extra)") from None
    digits = load_digits()
    images = torch.tensor(digits.data, dtype=torch.float32) / 16.0  # (1797, 64), grey levels 0..16
    return images, torch.tensor(digits.target, dtype=torch.long)


def digits_task(split: str, seed: int) -> LongDepData:
    """Pixel-by-pixel digits: inputs ``(N, 64, 1)``, a class per image; ``split`` is "train" (80%) or "test"."""
    if split not in ("train", "test"):
        raise ValueError(f"split: got {split!r}; expected 'train' or 'test'")
    images, labels = load_digit_images()
    order = torch.randperm(len(labels), generator=_generator(seed))
    cut = int(0.8 * len(labels))
    rows = order[:cut] if split == "train" else order[cut:]
    return LongDepData(images[rows].unsqueeze(2), labels[rows], "classify", 1, 10)


SYNTHETIC_TASKS = ("adding", "copy", "recall", "tickets")


def make_task(task: str, num_sequences: int, length: int, seed: int) -> LongDepData:
    """``num_sequences`` fresh sequences of a generated task at ``length`` (copy: the delay) from ``seed``.

    ``digits`` is a fixed data set, not generated: see :func:`digits_task`.
    """
    if task == "adding":
        return adding_problem(num_sequences, length, seed)
    if task == "copy":
        return copy_task(num_sequences, length, seed)
    if task == "recall":
        return delayed_recall(num_sequences, length, seed)
    if task == "tickets":
        return tickets_task(num_sequences, length, seed)
    if task == "digits":
        raise ValueError("task 'digits' is a fixed data set; expected digits_task(split, seed)")
    raise ValueError(f"task: got {task!r}; expected one of {', '.join(TASKS)}")
