"""A tagger trained from a prepared directory (``rnnkit prepare tag``): sentences read through memory maps, batched
with length bucketing inside a bounded shuffle buffer, each DDP rank its own part
(:mod:`rnnkit.data.prepared_records`). The validation and test splits (a directory prepared with ``--vocab-from``
the training one, or CoNLL files encoded with its vocabulary and tags) are held in memory, as in-memory training
holds them: evaluation needs every sentence's predicted tags anyway.
"""

from __future__ import annotations

from typing import Any

from ...analysis.spans import is_chunk_tagset
from ...data.prepared_records import PreparedRecords, prepared_dir, prepared_settings, steps_per_epoch
from ...models.tagger import IGNORE_INDEX, SequenceTagger
from ...text import Vocab
from ...train.distributed import check_batch_size
from ..base import Run, finish_run
from ..model_size import build_within_limit
from ..pretrained import load_pretrained
from .data import NAME, EncodedTags, encode_sentences, sentences_from
from .prepare import SETTING_NAMES
from .train import TagData, batch_loss, metrics_of, predict_tags, validation_of

__all__ = ["train_prepared"]


def _split(path: Any, flag: str, train: PreparedRecords, tag_vocab: Vocab, run: Run) -> EncodedTags:
    """A validation or test split in memory: a prepared directory (same vocabulary and tags as the training one),
    or CoNLL files encoded with the training directory's vocabulary and tags."""
    if prepared_dir(path) is not None:
        split = PreparedRecords(prepared_dir(path), NAME)
        if split.vocab != train.vocab or split.label_names != train.label_names:
            raise ValueError(f"{flag} {prepared_dir(path)}: prepared with another vocabulary or tags than --data "
                             f"{train.directory}; prepare it with --vocab-from {train.directory}")
        ids, tags = split.everything()
        return EncodedTags(ids, tags, [])
    return encode_sentences(sentences_from(path, run.settings["text"], flag[2:]), train.vocab, tag_vocab,
                            run.settings["text"])


def train_prepared(run: Run) -> dict[str, Any]:
    """:func:`~rnnkit.tasks.tag.train.train_tagger` on a prepared directory: its vocabulary, tags and reading
    settings; each rank reads its own part of the sentences, a bounded buffer at a time."""
    records = PreparedRecords(prepared_dir(run.data), NAME, verify=run.is_main)  # rank 0 recomputes the checksums
    text = run.settings["text"] = prepared_settings(run.settings["text"], SETTING_NAMES, records, run.resume)
    model, train = run.settings["model"], run.settings["train"]
    if model.char_features != "none":
        raise ValueError(f"--data {run.data}: a prepared directory holds word ids; character features need the "
                         "text files")
    if run.valid is None:
        raise ValueError(f"--valid: missing; training on a prepared directory ({run.data}) needs validation data "
                         "(CoNLL files, or a directory prepared with --vocab-from the training one)")
    vocab, tag_vocab = records.vocab, Vocab(records.label_names, specials=())
    valid = _split(run.valid, "--valid", records, tag_vocab, run)
    test = _split(run.test, "--test", records, tag_vocab, run) if run.test is not None else None
    splits = TagData(records, valid, test, vocab, tag_vocab)
    network = build_within_limit(lambda: SequenceTagger(
        len(tag_vocab), len(vocab), model, pad_id=vocab.pad_id, unk_id=vocab.unk_id, tag_names=splits.tag_names))
    vectors = load_pretrained(network.embedding, vocab, text)
    if model.word_dropout_alpha > 0:
        network.set_word_counts(records.token_counts())
    network = network.to(run.device)
    local = check_batch_size(train.batch_size, run.distributed)
    counts = {"train": len(records), "valid": len(valid), "test": None if test is None else len(test)}
    run.start({"text": text, "model": model, "train": train},
              vocabularies={"vocab.json": vocab, "tags.json": tag_vocab},
              data_extra={"sentences": counts, "source": f"{run.data} (prepared: {len(records)} sentences)",
                          **({"embeddings": vectors} if vectors else {})})
    chunked = is_chunk_tagset(splits.tag_names)
    batches = records.batches(local, train.seed, run.distributed.rank, run.distributed.world_size,
                              pad_id=vocab.pad_id, tag_pad=IGNORE_INDEX)
    results = run.fit(network, batch_loss, batches, evaluate=validation_of(splits, chunked),
                      monitor="valid_f1_error" if chunked else "valid_error", shard=None,  # each rank reads its own
                      steps_per_epoch=steps_per_epoch(len(records), local, run.distributed.world_size))
    for prefix, split in (("valid", valid), ("test", test)):
        if split is not None:
            predicted, loss = predict_tags(network, split, vocab.pad_id)
            results.update(metrics_of(predicted, loss, split, splits.tag_names, prefix))
    if vectors:
        results["embeddings_found"] = vectors["found_share"]
    return finish_run(run, results, title=f"{model.cell} tagger")
