"""The padding share in the progress line: shown when steps report their padded size, absent otherwise."""

from __future__ import annotations

import io

import torch

from rnnkit.tasks.common import batch_loss
from rnnkit.train.progress import Progress


def test_plain_line_shows_the_padding_share_of_the_batches_so_far():
    stream = io.StringIO()
    with Progress(4, "epoch 1/1", "plain", stream=stream, log_every=2) as progress:
        progress.update(1, tokens=60, loss=1.0, padded_tokens=100)
        progress.update(1, tokens=90, loss=1.0, padded_tokens=100)  # 150 of 200 slots real: 25% padding
        progress.update(1, tokens=50, loss=1.0, padded_tokens=50)
    lines = stream.getvalue().splitlines()
    assert " pad 25% " in lines[0]
    assert " pad 20% " in lines[1]  # 200 of 250


def test_no_padding_field_when_steps_do_not_report_it():
    stream = io.StringIO()
    with Progress(2, "epoch 1/1", "plain", stream=stream, log_every=1) as progress:
        progress.update(1, tokens=60, loss=1.0)
    assert " pad " not in stream.getvalue()


def test_classification_batch_loss_reports_rows_times_longest():
    class Mean(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(10, 3)

        def forward(self, ids, lengths):
            return self.embedding(ids).mean(1)

    ids = torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0], [7, 0, 0, 0]])
    result = batch_loss(Mean(), (ids, torch.tensor([4, 2, 1]), torch.tensor([0, 1, 2])), None)
    assert (result.tokens, result.padded_tokens) == (7, 12)
