"""The condgen task's batches: <bos>-shifted inputs, <eos>-ended targets, padding counted nowhere."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models import ConditionalGenerator, ConditionalGeneratorConfig
from rnnkit.tasks.classify_data import Encoded, TextDataConfig
from rnnkit.tasks.condgen import SPECIALS, batch_loss, build_vocab, collate
from rnnkit.tasks.condgen_predict import ConditionalGeneratorPredictor
from rnnkit.text import Vocab


@pytest.fixture
def toy() -> tuple[Vocab, Encoded]:
    examples = [(["a", "fine", "film"], "pos", "line 1"), (["dull"], "neg", "line 2")]
    vocab = build_vocab(examples, TextDataConfig())
    ids = [torch.tensor(vocab.encode(tokens)) for tokens, _, _ in examples]
    return vocab, Encoded(ids, [1, 0], ["line 1", "line 2"])


def test_collate_shifts_inputs_and_targets(toy):
    vocab, data = toy
    assert vocab.itos[:4] == list(SPECIALS)
    labels, inputs, targets, lengths = collate(data, [0, 1], vocab)
    bos, eos, pad = vocab.stoi["<bos>"], vocab.stoi["<eos>"], vocab.pad_id
    a, fine, film, dull = (vocab.stoi[word] for word in ("a", "fine", "film", "dull"))
    assert labels.tolist() == [1, 0] and lengths.tolist() == [4, 2]
    assert inputs.tolist() == [[bos, a, fine, film], [bos, dull, pad, pad]]
    assert targets.tolist() == [[a, fine, film, eos], [dull, eos, pad, pad]]


def test_batch_loss_counts_real_targets_only(toy):
    vocab, data = toy
    torch.manual_seed(0)
    model = ConditionalGenerator(len(vocab), ConditionalGeneratorConfig(embedding_size=4, hidden_size=6,
                                                                         condition_size=3, dropout=0.0),
                                 num_classes=2, pad_id=vocab.pad_id).eval()
    together = batch_loss(model, collate(data, [0, 1], vocab), vocab.pad_id)
    apart = [batch_loss(model, collate(data, [index], vocab), vocab.pad_id) for index in (0, 1)]
    assert together.count == 6 == sum(part.count for part in apart)
    torch.testing.assert_close(together.loss_sum, apart[0].loss_sum + apart[1].loss_sum)


def test_predictor_refuses_a_vocabulary_without_bos_and_eos():
    vocab = Vocab.build([["x"]])
    model = ConditionalGenerator(len(vocab), ConditionalGeneratorConfig(hidden_size=4), num_classes=2)
    with pytest.raises(ValueError, match="<bos>, <eos>"):
        ConditionalGeneratorPredictor(model, vocab, ["a", "b"], None)
