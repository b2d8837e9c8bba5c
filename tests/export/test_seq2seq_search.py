"""Greedy and beam decoding over an exported seq2seq model (its encoder and one decoder step run by
onnxruntime) give the torch predictor's tokens, on a batch of sources of different lengths."""

from __future__ import annotations

import pytest
import torch

from rnnkit.decode.beam import beam_search, greedy_search
from rnnkit.export import ExportedModel, OnnxSeq2Seq

from .helpers import load


@pytest.mark.slow
def test_onnx_greedy_and_beam_decoding_give_the_torch_tokens(tmp_path, tmp_path_factory):
    predictor = load("seq2seq", tmp_path_factory)
    sidecar = predictor.export(tmp_path / "translate.onnx", "onnx")
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "translate.decoder_step.onnx", "translate.encoder.onnx", "translate.json"]
    onnx = OnnxSeq2Seq(ExportedModel(sidecar))
    texts = ["I see a big cat.", "A dog.", "You see a cat.", "I.", "A big dog you see."]
    ids = [predictor.source_vocab.encode(predictor.source_tokens(text)) for text in texts]
    lengths = torch.tensor([len(row) for row in ids])
    source = torch.full((len(ids), int(lengths.max())), predictor.source_vocab.pad_id, dtype=torch.long)
    for row, sequence in enumerate(ids):
        source[row, : len(sequence)] = torch.tensor(sequence)
    settings = predictor.settings
    options = dict(max_length_ratio=settings.max_length_ratio, max_length_offset=settings.max_length_offset,
                   banned=predictor.banned)
    for beam in (1, 3):
        if beam == 1:
            want = greedy_search(predictor.model, source, lengths, predictor.bos_id, predictor.eos_id, **options)
        else:
            want = beam_search(predictor.model, source, lengths, predictor.bos_id, predictor.eos_id, beam_size=beam,
                               length_penalty=settings.length_penalty, **options)
        got = onnx.decode(source, lengths, beam_size=beam)
        assert got.tokens == want.tokens and got.finished == want.finished
        assert got.scores == pytest.approx(want.scores, abs=1e-4)
    # the predictor's own verb, one sentence at a time, agrees too
    one = predictor.translate(texts[0], beam_size=3)
    single = onnx.decode(source[:1, : len(ids[0])], lengths[:1], beam_size=3)
    assert predictor.target_vocab.decode(single.tokens[0]) == one["tokens"]
