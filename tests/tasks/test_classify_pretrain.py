"""Language-model pretraining of a classifier (rnnkit.tasks.classify.pretrain)."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models import ClassifierConfig, ClassifierEnsemble, SequenceClassifier
from rnnkit.tasks import train_classifier
from rnnkit.tasks.classify.pretrain import (
    BidirectionalLanguageModel,
    PretrainConfig,
    check_pretrainable,
    pretrain_classifier,
)
from rnnkit.tasks.common import Encoded
from rnnkit.train.config import TrainConfig

from ..cli_helpers import assert_user_error, invoke

PAD, UNK = 0, 1


def reference_loss(classifier: SequenceClassifier, output: torch.nn.Linear, sequence: list[int],
                   output_words: int) -> torch.Tensor:
    """The summed NLL of one unpadded sequence, written out: forward state t -> word t+1, backward t -> t-1."""
    outputs, _, _ = classifier.encode(torch.tensor([sequence]))  # (1, T, D*H)
    hidden = classifier.config.hidden_size
    targets = [word if word < output_words else UNK for word in sequence]
    total = torch.zeros((), dtype=torch.float64)
    for t in range(len(sequence)):
        if t + 1 < len(sequence):
            total -= F.log_softmax(output(outputs[0, t, :hidden]), 0)[targets[t + 1]].double()
        if classifier.config.bidirectional and t > 0:
            total -= F.log_softmax(output(outputs[0, t, hidden:]), 0)[targets[t - 1]].double()
    return total


@pytest.mark.parametrize("bidirectional", [True, False])
def test_the_loss_of_a_padded_batch_is_the_sum_over_each_sequence_alone(bidirectional):
    torch.manual_seed(0)
    config = ClassifierConfig(embedding_size=5, hidden_size=4, bidirectional=bidirectional, input_dropout=0.3,
                              word_dropout=0.2)
    classifier = SequenceClassifier(2, config, vocab_size=12, pad_id=PAD)
    model = BidirectionalLanguageModel(classifier, output_words=7, unk_id=UNK).eval()
    sequences = [[3, 9, 4, 11, 2], [5, 8], [10]]  # 9, 8, 10, 11 are beyond the 7 predicted words: <unk>
    ids = torch.tensor([sequence + [PAD] * (5 - len(sequence)) for sequence in sequences])
    loss, count = model(ids, torch.tensor([5, 2, 1]))
    expected = sum(reference_loss(classifier, model.output, sequence, 7) for sequence in sequences)
    assert count == (4 + 1 + 0) * (2 if bidirectional else 1)
    torch.testing.assert_close(loss.double(), expected, rtol=1e-5, atol=1e-5)


def test_the_forward_half_of_encode_sees_only_the_past_so_no_word_predicts_itself():
    torch.manual_seed(1)
    classifier = SequenceClassifier(2, ClassifierConfig(embedding_size=4, hidden_size=3), vocab_size=9,
                                    pad_id=PAD).eval()
    ids = torch.tensor([[2, 3, 4, 5, 6]])
    outputs, _, _ = classifier.encode(ids)
    changed, _, _ = classifier.encode(torch.tensor([[2, 3, 4, 5, 8]]))  # only the last word differs
    torch.testing.assert_close(outputs[0, :4, :3], changed[0, :4, :3])  # forward states before it: unchanged
    assert not torch.allclose(outputs[0, :4, 3:], changed[0, :4, 3:])  # backward states: they read it


def test_pretraining_lowers_the_validation_loss_and_starts_every_member_alike(tmp_path):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    pattern = [2, 3, 4, 5, 6, 7]  # a text whose next word is always predictable
    sequences = [pattern[start:] + pattern[:start] for start in range(6)] * 8
    data = Encoded(ids=[torch.tensor(sequence) for sequence in sequences], labels=[0, 1] * 24, where=["x"] * 48)
    config = ClassifierConfig(embedding_size=8, hidden_size=8, ensemble=2)
    network = ClassifierEnsemble(2, config, vocab_size=8, pad_id=PAD)
    before = network.members[0].embedding.weight.detach().clone()
    results = pretrain_classifier(network, data, data, pad_id=PAD, unk_id=UNK, config=PretrainConfig(4),
                                  train=TrainConfig(batch_size=8, lr=0.02, quiet=True), out=tmp_path / "pretrain")
    history = [json.loads(line) for line in (tmp_path / "pretrain" / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == 4 and history[-1]["valid_loss"] < history[0]["valid_loss"] < 2.0  # ln(8) = 2.08
    assert results["pretrain_best_epoch"] == 4 and results["pretrain_valid_ppl"] < 3.0
    first, second = network.members
    assert not torch.equal(first.embedding.weight, before)
    for name, value in first.recurrent.state_dict().items():
        assert torch.equal(value, second.recurrent.state_dict()[name]), name
    assert torch.equal(first.embedding.weight, second.embedding.weight)
    assert not torch.equal(first.head[-1].weight, second.head[-1].weight)  # heads stay their own


def test_train_classifier_pretrains_first_and_records_it(tmp_path):
    torch.set_num_threads(1)
    rows = [{"text": f"{word} {filler} film", "label": label} for filler in ("plot", "story", "music", "cast")
            for word, label in (("good", "pos"), ("great", "pos"), ("bad", "neg"), ("awful", "neg"))] * 2
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    results = train_classifier(tmp_path / "run", data=data, model=ClassifierConfig(embedding_size=6, hidden_size=6),
                               train=TrainConfig(epochs=1, batch_size=4, quiet=True),
                               pretrain=PretrainConfig(pretrain_epochs=2, pretrain_words=5))
    assert results["pretrain_best_epoch"] in (1, 2) and results["pretrain_seconds"] > 0
    assert len((tmp_path / "run" / "pretrain" / "metrics.jsonl").read_text().splitlines()) == 2
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["pretrain"] == {"pretrain_epochs": 2, "pretrain_words": 5, "pretrain_lr": None}


def test_stacked_bidirectional_classifiers_cannot_be_pretrained():
    check_pretrainable(ClassifierConfig(num_layers=2, bidirectional=False))
    check_pretrainable(ClassifierConfig(num_layers=1, bidirectional=True))
    with pytest.raises(ValueError, match="pretrain_epochs: a bidirectional classifier with num_layers=2"):
        check_pretrainable(ClassifierConfig(num_layers=2, bidirectional=True))
    with pytest.raises(ValueError, match="numeric features"):
        BidirectionalLanguageModel(SequenceClassifier(2, ClassifierConfig(), input_size=3), 10, UNK)


@pytest.mark.parametrize(("options", "words"), [
    ({"pretrain_epochs": -1}, "pretrain_epochs: got -1"),
    ({"pretrain_words": 1}, "pretrain_words: got 1; expected an integer >= 2"),
    ({"pretrain_lr": 0.0}, "pretrain_lr: got 0.0"),
])
def test_pretrain_config_errors(options, words):
    with pytest.raises(ValueError, match=words):
        PretrainConfig(**options)


def test_the_cli_refuses_pretraining_a_stacked_bidirectional_classifier(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": f"w{i} x", "label": f"c{i % 2}"}) + "\n" for i in range(20)))
    result = invoke("train", "classify", "--data", data, "--out", tmp_path / "run", "--num-layers", "2",
                    "--pretrain-epochs", "1", "--quiet")
    assert_user_error(result, "pretrain_epochs", "num_layers=2")
    assert not (tmp_path / "run").exists()
