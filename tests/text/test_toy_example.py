"""The lecture's toy example, end to end: sentences -> tokens -> vocabulary -> ids -> padded batch -> one-hot.

Counted by hand (WordTokenizer(lower=True) splits the commas off):

    "the sun is shining"                                       4 tokens
    "the weather is sweet"                                     4 tokens
    "the sun is shining , the weather is sweet , and one and one is two"   16 tokens

    is 5 | the 4 | , 2 | and 2 | one 2 | shining 2 | sun 2 | sweet 2 | weather 2 | two 1

Ties at count 2 are broken alphabetically (by code point, so "," before the letters).
"""

import torch

from rnnkit.text import Vocab, WordTokenizer, lengths_to_mask, one_hot, pad_sequences

SENTENCES = [
    "The sun is shining",
    "The weather is sweet",
    "The sun is shining, the weather is sweet, and one and one is two",
]
EXPECTED_ITOS = ["<pad>", "<unk>", "is", "the", ",", "and", "one", "shining", "sun", "sweet", "weather", "two"]
EXPECTED_IDS = [
    [3, 8, 2, 7],
    [3, 10, 2, 9],
    [3, 8, 2, 7, 4, 3, 10, 2, 9, 4, 5, 6, 5, 6, 2, 11],
]


def build():
    tokenizer = WordTokenizer(lower=True)
    token_lists = [tokenizer(sentence) for sentence in SENTENCES]
    return token_lists, Vocab.build(token_lists)


def test_tokens_and_vocabulary_order():
    token_lists, vocab = build()
    assert token_lists[2] == ["the", "sun", "is", "shining", ",", "the", "weather", "is", "sweet", ",",
                              "and", "one", "and", "one", "is", "two"]
    assert vocab.itos == EXPECTED_ITOS
    assert len(vocab) == 12
    assert (vocab.pad_id, vocab.unk_id) == (0, 1)


def test_building_twice_gives_the_same_vocabulary():
    assert build()[1] == build()[1]


def test_index_lists_and_back():
    token_lists, vocab = build()
    ids = [vocab.encode(tokens) for tokens in token_lists]
    assert ids == EXPECTED_IDS
    assert [vocab.decode(row) for row in ids] == token_lists
    assert vocab.encode(["the", "moon"]) == [3, vocab.unk_id]


def test_padded_batch_equals_torch_pad_sequence():
    _, vocab = build()
    ids, lengths = pad_sequences(EXPECTED_IDS, vocab.pad_id)
    assert ids.shape == (3, 16) and ids.dtype == torch.long
    assert lengths.tolist() == [4, 4, 16]
    reference = torch.nn.utils.rnn.pad_sequence([torch.tensor(row) for row in EXPECTED_IDS], batch_first=True,
                                                padding_value=vocab.pad_id)
    assert torch.equal(ids, reference)
    mask = lengths_to_mask(lengths)
    assert torch.equal(mask, ids != vocab.pad_id)  # no real token is <pad> here


def test_one_hot_of_the_batch():
    _, vocab = build()
    ids, lengths = pad_sequences(EXPECTED_IDS, vocab.pad_id)
    vectors = one_hot(ids, len(vocab), pad_id=vocab.pad_id)
    assert vectors.shape == (3, 16, 12) and vectors.dtype == torch.float32
    mask = lengths_to_mask(lengths)
    assert torch.equal(vectors.argmax(-1)[mask], ids[mask])
    assert torch.equal(vectors.sum(-1), mask.float())  # one 1 per real step, all-zero rows at padding
    assert not vectors[~mask].any()
    reference = torch.nn.functional.one_hot(ids, len(vocab)).float() * mask.unsqueeze(-1)
    assert torch.equal(vectors, reference)
