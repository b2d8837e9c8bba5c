"""Word dropout and the probability-averaging ensemble of SequenceClassifier."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models import ClassifierConfig, ClassifierEnsemble, SequenceClassifier, build_classifier
from rnnkit.text import pad_sequences


def tiny(**options) -> ClassifierConfig:
    return ClassifierConfig(**({"embedding_size": 6, "hidden_size": 5, "dropout": 0.0} | options))


def test_word_dropout_zeroes_whole_steps_and_scales_the_rest_in_training_only():
    torch.manual_seed(0)
    model = SequenceClassifier(2, tiny(word_dropout=0.5), vocab_size=10)
    x = torch.ones(4, 200, 6)  # (B, T, E)
    dropped = model._drop_words(x)
    per_step = dropped[:, :, 0]
    assert torch.equal(dropped, per_step.unsqueeze(2).expand_as(dropped))  # a step is kept or dropped whole
    assert set(per_step.unique().tolist()) == {0.0, 2.0}  # kept steps scaled by 1 / (1 - p)
    assert 0.4 < (per_step == 0).float().mean().item() < 0.6
    model.eval()
    assert torch.equal(model._drop_words(x), x)


def test_word_dropout_keeps_padding_out_of_the_prediction():
    torch.manual_seed(1)
    model = SequenceClassifier(2, tiny(word_dropout=0.3, pooling="mean"), vocab_size=12, pad_id=0).eval()
    ids, lengths = pad_sequences([[1, 2, 3, 4], [5, 6]], pad_id=0)
    with torch.no_grad():
        torch.testing.assert_close(model(ids, lengths), torch.cat([model(torch.tensor([[1, 2, 3, 4]])),
                                                                    model(torch.tensor([[5, 6]]))]))


def test_ensemble_predicts_the_mean_of_its_members_probabilities():
    torch.manual_seed(2)
    model = build_classifier(3, tiny(ensemble=3), vocab_size=15, pad_id=0).eval()
    assert isinstance(model, ClassifierEnsemble) and len(model.members) == 3
    assert all(member.config.ensemble == 1 for member in model.members)
    ids, lengths = pad_sequences([[1, 2, 3], [4, 5, 6, 7, 8], [9]], pad_id=0)
    with torch.no_grad():
        mean = torch.stack([torch.softmax(member(ids, lengths), 1) for member in model.members]).mean(0)
        torch.testing.assert_close(torch.softmax(model(ids, lengths), 1), mean)
        alone = torch.cat([model(torch.tensor([[1, 2, 3]])), model(torch.tensor([[9]]))])
    torch.testing.assert_close(model(ids, lengths)[[0, 2]].detach(), alone)  # padding changes nothing
    first, second = model.members[0].head[-1].weight, model.members[1].head[-1].weight
    assert not torch.equal(first, second)  # independently initialised


def test_ensemble_of_one_is_the_plain_model_with_the_same_weight_names():
    model = build_classifier(2, tiny(), vocab_size=10)
    assert type(model) is SequenceClassifier
    assert set(model.state_dict()) == set(SequenceClassifier(2, tiny(), vocab_size=10).state_dict())
    with pytest.raises(ValueError, match="ensemble >= 2"):
        ClassifierEnsemble(2, tiny(), vocab_size=10)


def test_ensemble_overfits_a_tiny_batch():
    torch.manual_seed(3)
    model = build_classifier(3, tiny(ensemble=2, hidden_size=16), vocab_size=12, pad_id=0)
    ids, lengths = pad_sequences([[1, 2, 3], [4, 5, 6, 7, 8], [9, 10], [3, 2, 1, 11], [5, 9]], pad_id=0)
    labels = torch.tensor([0, 1, 2, 1, 0])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(80):
        optimizer.zero_grad()
        loss = torch.stack([F.cross_entropy(z, labels) for z in model.member_logits(ids, lengths)]).mean()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(ids, lengths).argmax(1), labels)
        assert F.nll_loss(model(ids, lengths), labels).item() < 0.05


@pytest.mark.parametrize(("options", "words"), [({"word_dropout": 1.0}, "word_dropout"),
                                                ({"word_dropout": -0.2}, "word_dropout"),
                                                ({"ensemble": 0}, "ensemble"), ({"ensemble": True}, "ensemble")])
def test_config_errors_name_the_setting(options, words):
    with pytest.raises(ValueError, match=words):
        ClassifierConfig(**options)


def test_ensemble_logits_are_log_probabilities():
    torch.manual_seed(4)
    model = build_classifier(2, tiny(ensemble=2), vocab_size=8).eval()
    with torch.no_grad():
        logits = model(torch.tensor([[1, 2, 3]]))
    assert math.isclose(logits.exp().sum().item(), 1.0, rel_tol=1e-5)
