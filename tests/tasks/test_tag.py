"""Tagging data and metrics: ids and tag ids, padding tagged to be ignored, a seeded held-out share, unseen tags
named by file and line, and metrics counted over real tokens."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models.tagger import IGNORE_INDEX
from rnnkit.tasks.tag import train_tagger
from rnnkit.tasks.tag.data import (
    EncodedTags,
    TagDataConfig,
    build_tag_vocab,
    build_vocab,
    collate,
    encode_sentences,
    read_sentences,
    sentences_from,
    split_sentences,
)
from rnnkit.tasks.tag.train import metrics_of


@pytest.fixture
def conll(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("John B-PER\nSmith I-PER\nsaid O\n\nParis B-LOC\n", encoding="utf-8")
    return path


def test_ids_tag_ids_and_padding_ignored(conll):
    config = TagDataConfig(lower=True)
    sentences = read_sentences(conll, config, "--data")
    vocab, tags = build_vocab(sentences, config), build_tag_vocab(sentences, conll)
    assert list(tags.itos) == ["B-LOC", "B-PER", "I-PER", "O"] and "john" in vocab and "John" not in vocab
    encoded = encode_sentences(sentences, vocab, tags, config)
    assert encoded.tags[0].tolist() == [1, 2, 3] and encoded.tags[1].tolist() == [0]
    ids, lengths, tag_ids = collate(encoded, [0, 1], vocab.pad_id)
    assert lengths.tolist() == [3, 1] and ids[1, 1:].tolist() == [vocab.pad_id] * 2
    assert tag_ids[1].tolist() == [0, IGNORE_INDEX, IGNORE_INDEX]


def test_an_unseen_tag_names_its_line(conll, tmp_path):
    config = TagDataConfig()
    sentences = read_sentences(conll, config, "--data")
    vocab, tags = build_vocab(sentences, config), build_tag_vocab(sentences, conll)
    other = tmp_path / "test.txt"
    other.write_text("Rome B-LOC\n\nAcme B-ORG\nInc I-ORG\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{other} line 3: tag 'B-ORG' was not seen in the training data; "
                                         "the model knows 'B-LOC', 'B-PER', 'I-PER', 'O'$"):
        encode_sentences(read_sentences(other, config, "--test"), vocab, tags, config)


def test_held_out_share_is_seeded_disjoint_and_never_everything():
    kept, held = split_sentences(20, 0.1, seed=3)
    assert len(held) == 2 and not set(kept) & set(held) and sorted(kept + held) == list(range(20))
    assert split_sentences(20, 0.1, seed=3) == (kept, held) and split_sentences(20, 0.1, seed=4) != (kept, held)
    assert split_sentences(2, 0.9, seed=0)[0] != []


def test_settings_are_checked():
    with pytest.raises(ValueError, match="token_column and tag_column"):
        TagDataConfig(token_column=1, tag_column=1)
    with pytest.raises(ValueError, match="valid_fraction"):
        TagDataConfig(valid_fraction=1.0)
    with pytest.raises(ValueError, match="token_column"):
        TagDataConfig(token_column="first")


def test_metrics_count_real_tokens_and_spans():
    names = ["B-PER", "I-PER", "O"]
    data = EncodedTags([torch.zeros(3, dtype=torch.long), torch.zeros(2, dtype=torch.long)],
                       [torch.tensor([0, 1, 2]), torch.tensor([2, 0])], [])
    predicted = [[0, 2, 2], [2, 0]]  # sentence 1: PER cut short (1 token wrong); sentence 2: right
    metrics = metrics_of(predicted, loss=2.5, data=data, tag_names=names, prefix="test")
    assert metrics["test_accuracy"] == pytest.approx(4 / 5) and metrics["test_loss"] == pytest.approx(0.5)
    assert (metrics["test_precision"], metrics["test_recall"]) == pytest.approx((0.5, 0.5))
    pos = metrics_of([[0, 0, 1]], 0.0, EncodedTags([torch.zeros(3)], [torch.tensor([0, 1, 1])], []),
                     ["NN", "VB"], "valid")
    assert pos["valid_accuracy"] == pytest.approx(2 / 3) and "valid_f1" not in pos


def test_in_memory_sentences_are_checked_and_named_by_item():
    config = TagDataConfig()
    sentences = sentences_from([(["John", "Smith"], ["B-PER", "I-PER"]), (("in", "Rome"), ("O", "B-LOC"))], config,
                               "data")
    assert [sentence.tokens for sentence in sentences] == [("John", "Smith"), ("in", "Rome")]
    assert sentences[1].where == "data item 2" and sentences[1].where_token(1) == "data item 2 token 2"
    with pytest.raises(ValueError, match=r"^valid item 2: expected a \(tokens, tags\) pair"):
        sentences_from([(["a"], ["O"]), (["a", "b"], ["O"])], config, "valid")
    with pytest.raises(ValueError, match=r"^test item 1: expected a \(tokens, tags\) pair"):
        sentences_from([("a b", "O O")], config, "test")
    with pytest.raises(ValueError, match=r"^data: got \[\]; expected CoNLL file paths or a non-empty sequence"):
        sentences_from([], config, "data")


def test_training_on_in_memory_sentences_names_an_unseen_tag_by_item(tmp_path):
    data = [(["John", "Smith"], ["B-PER", "I-PER"]), (["in", "Rome"], ["O", "B-LOC"])]
    with pytest.raises(ValueError, match=r"^valid item 1 token 2: tag 'B-ORG' was not seen in the training data"):
        train_tagger(tmp_path / "run", data=data, valid=[(["Acme", "Inc"], ["O", "B-ORG"])])
    with pytest.raises(ValueError, match=r"^data: every token has the tag 'O'"):
        train_tagger(tmp_path / "run", data=[(["a"], ["O"]), (["b"], ["O"])])
    assert not (tmp_path / "run").exists()


def test_frequency_aware_word_dropout_gets_the_training_counts(tmp_path):
    from rnnkit.models.tagger import TaggerConfig
    from rnnkit.tasks.tag.train import word_counts
    from rnnkit.text import Vocab
    from rnnkit.train.callbacks import Callback
    from rnnkit.train.config import TrainConfig

    encoded = EncodedTags([torch.tensor([2, 3, 3]), torch.tensor([3, 4])], [torch.zeros(3), torch.zeros(2)], [])
    assert word_counts(encoded, 6).tolist() == [0, 0, 1, 3, 1, 0]
    data = [(["the", "cat", "sat"], ["DET", "NOUN", "VERB"]), (["the", "dog"], ["DET", "NOUN"])] * 3
    seen = []

    class Probe(Callback):  # records the model's dropout probabilities while it trains
        def on_step_end(self, trainer, step, loss):
            seen.append(trainer.model.word_drop_probability.clone())

    train_tagger(tmp_path / "run", data=data, valid=data[:2],
                 model=TaggerConfig(embedding_size=4, hidden_size=3, word_dropout_alpha=0.5),
                 train=TrainConfig(epochs=1, batch_size=2), callbacks=[Probe()])
    vocab = Vocab.load(tmp_path / "run" / "vocab.json")
    expected = {"the": 6, "cat": 3, "sat": 3, "dog": 3}
    for word, count in expected.items():
        assert seen[0][vocab.stoi[word]].item() == pytest.approx(0.5 / (0.5 + count))
