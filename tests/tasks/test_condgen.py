"""The condgen task's batches (<bos>-shifted inputs, <eos>-ended targets, padding counted nowhere, split between
ranks by the default shard) and in-memory training data."""

from __future__ import annotations

import json

import pytest
import torch

import rnnkit as rk
from rnnkit.models import ConditionalGenerator, ConditionalGeneratorConfig
from rnnkit.tasks.base import IN_MEMORY
from rnnkit.tasks.common import Encoded
from rnnkit.tasks.condgen import (
    SPECIALS,
    ConditionalGeneratorPredictor,
    batch_loss,
    build_vocab,
    collate,
    train_condgen,
)
from rnnkit.tasks.text_data import TextDataConfig
from rnnkit.text import Vocab
from rnnkit.train.config import TrainConfig
from rnnkit.train.distributed import shard_batch


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


def test_the_default_shard_splits_a_batch_into_parts_whose_losses_add_up(toy):
    vocab, data = toy
    torch.manual_seed(0)
    model = ConditionalGenerator(len(vocab), ConditionalGeneratorConfig(embedding_size=4, hidden_size=6,
                                                                         condition_size=3, dropout=0.0),
                                 num_classes=2, pad_id=vocab.pad_id).eval()
    batch = collate(data, [0, 1], vocab)
    parts = [shard_batch(batch, rank, 2) for rank in (0, 1)]
    assert [part[0].tolist() for part in parts] == [[1], [0]] and all(len(part) == 4 for part in parts)
    whole, apart = batch_loss(model, batch, vocab.pad_id), [batch_loss(model, part, vocab.pad_id) for part in parts]
    assert whole.count == sum(part.count for part in apart)
    torch.testing.assert_close(whole.loss_sum, apart[0].loss_sum + apart[1].loss_sum)


def test_in_memory_pairs_train_evaluate_and_name_a_bad_item(tmp_path):
    torch.set_num_threads(1)
    pairs = [(text, label) for text, label in (("x x", "pos"), ("y y y", "neg"), ("x", "pos"), ("y", "neg"))] * 4
    settings = dict(model=ConditionalGeneratorConfig(embedding_size=4, hidden_size=8, condition_size=2, dropout=0.0),
                    train=TrainConfig(epochs=1, batch_size=4, quiet=True, lr=0.05))
    results = train_condgen(tmp_path / "run", data=pairs, valid=pairs[:4], test=pairs[4:8], **settings)
    assert results["test_ppl_by_label"].keys() == {"neg", "pos"}
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["train"] == config["data"]["valid"] == IN_MEMORY and config["generation"]["max_length"] == 13
    assert config["data"]["examples"] == {"train": 16, "valid": 4, "test": 4}
    predictor = rk.load(tmp_path / "run")
    assert predictor.evaluate(pairs[:8])["examples"] == 8
    with pytest.raises(ValueError, match=r"valid item 2: expected a \(text, label\) pair of strings; got \['y'\]"):
        train_condgen(tmp_path / "other", data=pairs, valid=[("x", "pos"), ["y"]], **settings)
