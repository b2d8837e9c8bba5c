"""Character features in the classifier: shapes, padding never changes the logits, every member of an ensemble
has its own encoder, the gradient reaches the characters; wrong inputs are one-line errors."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models import ClassifierConfig, SequenceClassifier, build_classifier
from rnnkit.text import pad_sequences
from rnnkit.text.char_ids import pad_char_ids

SENTENCES = [[4, 5, 6, 7], [3, 8], [9, 10, 11]]
CHARS = [[[2, 3], [4], [5, 6, 7], [3]], [[2], [8, 9, 2]], [[4, 4], [5], [6, 2, 3, 4]]]  # per word, <pad> = 0


def tiny(**options) -> ClassifierConfig:
    return ClassifierConfig(**({"embedding_size": 6, "hidden_size": 5, "dropout": 0.0} | options))


@pytest.mark.parametrize(("kind", "features"), [("lstm", 2 * 4), ("cnn", 4)])
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
def test_char_features_widen_the_step_and_padding_changes_nothing(kind, features, pooling):
    torch.manual_seed(0)
    model = SequenceClassifier(3, tiny(pooling=pooling), vocab_size=12, pad_id=0, char_features=kind, char_size=4,
                               num_chars=10).eval()
    assert model.recurrent.input_size == 6 + features
    ids, lengths = pad_sequences(SENTENCES, pad_id=0)  # (3, 4)
    chars = pad_char_ids(CHARS, 0, ids.shape[1])  # (3, 4, 4)
    logits = model(ids, lengths, chars)
    assert logits.shape == (3, 3)
    for row, (sentence, words) in enumerate(zip(SENTENCES, CHARS, strict=True)):
        alone = model(torch.tensor([sentence]), None, pad_char_ids([words], 0))
        torch.testing.assert_close(logits[row : row + 1], alone, rtol=1e-5, atol=1e-6)


def test_the_characters_change_the_logits_and_get_a_gradient():
    torch.manual_seed(1)
    model = SequenceClassifier(2, tiny(), vocab_size=12, pad_id=0, char_features="cnn", char_size=4, num_chars=10)
    ids, lengths = pad_sequences(SENTENCES, pad_id=0)
    chars = pad_char_ids(CHARS, 0, ids.shape[1])
    other = chars.clone()
    other[0, 0, 0] = 9  # one character of one word
    model.eval()
    assert not torch.allclose(model(ids, lengths, chars)[0], model(ids, lengths, other)[0])
    assert torch.allclose(model(ids, lengths, chars)[1:], model(ids, lengths, other)[1:])
    model(ids, lengths, chars).sum().backward()
    assert model.chars.embedding.weight.grad.abs().sum() > 0


def test_an_ensemble_gives_each_member_its_own_char_encoder():
    torch.manual_seed(2)
    ensemble = build_classifier(2, tiny(ensemble=2), vocab_size=12, pad_id=0, char_features="lstm", char_size=3,
                                num_chars=10)
    first, second = (member.chars.embedding.weight for member in ensemble.members)
    assert first.data_ptr() != second.data_ptr() and not torch.equal(first, second)
    ids, lengths = pad_sequences(SENTENCES, pad_id=0)
    assert ensemble.member_logits(ids, lengths, pad_char_ids(CHARS, 0, 4)).shape == (2, 3, 2)
    assert ensemble(ids, lengths, pad_char_ids(CHARS, 0, 4)).shape == (3, 2)


def test_wrong_char_settings_and_inputs_are_one_line_errors():
    with pytest.raises(ValueError, match="char_features: got 'gru'; expected one of 'none', 'lstm', 'cnn'"):
        SequenceClassifier(2, tiny(), vocab_size=12, char_features="gru", num_chars=10)
    with pytest.raises(ValueError, match="char_size: got 0; expected a positive integer"):
        SequenceClassifier(2, tiny(), vocab_size=12, char_features="cnn", char_size=0, num_chars=10)
    with pytest.raises(ValueError, match="num_chars: got None"):
        SequenceClassifier(2, tiny(), vocab_size=12, char_features="cnn")
    with pytest.raises(ValueError, match="character features need token inputs"):
        SequenceClassifier(2, tiny(), input_size=3, char_features="cnn", num_chars=10)
    model = SequenceClassifier(2, tiny(), vocab_size=12, pad_id=0, char_features="cnn", char_size=4, num_chars=10)
    ids, lengths = pad_sequences(SENTENCES, pad_id=0)
    with pytest.raises(ValueError, match=r"chars: got None; expected character ids \(3, 4\) \+ \(W,\)"):
        model(ids, lengths)
    with pytest.raises(ValueError, match=r"chars: got \(3, 3, 2\)"):
        model(ids, lengths, torch.zeros(3, 3, 2, dtype=torch.long))
