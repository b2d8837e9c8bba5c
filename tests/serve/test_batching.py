"""Micro-batching: concurrent requests to one verb share predictor calls (counted), each gets its own answer, and a
bad input in a shared batch fails only its own request."""

from __future__ import annotations

import asyncio
import functools

import httpx
import pytest

from rnnkit.serve import create_app, load_runs

from .conftest import RUNS


def counted(predictor, name):
    """Wrap ``predictor.name`` (signature kept) so that its calls are recorded: a list of the inputs of each."""
    method, calls = getattr(predictor, name), []

    @functools.wraps(method)
    def wrapper(*args, **keywords):
        calls.append(args[0] if args else keywords.get("prompts"))
        return method(*args, **keywords)

    setattr(predictor, name, wrapper)
    return calls


async def post_all(app, path, bodies):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
        return await asyncio.gather(*(client.post(path, json=body) for body in bodies))


@pytest.mark.parametrize(("max_batch", "most_calls"), [(16, 2), (1, 16)])
def test_concurrent_requests_share_predictor_calls(max_batch, most_calls):
    predictor = load_runs([RUNS / "classify"])["classify"]
    calls = counted(predictor, "predict")
    texts = [f"{word} film" for word in ("good", "bad", "dull", "great")] * 4
    app = create_app({"classify": predictor}, max_batch=max_batch, max_wait_ms=300)
    responses = asyncio.run(post_all(app, "/v1/classify/predict", [{"inputs": [text]} for text in texts]))
    assert [response.status_code for response in responses] == [200] * 16
    assert [response.json()["outputs"][0]["text"] for response in responses] == texts  # each its own answer
    assert sum(len(inputs) for inputs in calls) == 16 and len(calls) <= most_calls
    if max_batch == 1:
        assert all(len(inputs) == 1 for inputs in calls)
    expected = load_runs([RUNS / "classify"])["classify"].predict(texts)
    for response, record in zip(responses, expected, strict=True):
        answer = response.json()["outputs"][0]
        assert answer["label"] == record["label"]
        assert all(abs(answer["probabilities"][label] - p) < 1e-5 for label, p in record["probabilities"].items())


def test_a_batch_never_exceeds_max_batch_inputs():
    predictor = load_runs([RUNS / "classify"])["classify"]
    calls = counted(predictor, "predict")
    app = create_app({"classify": predictor}, max_batch=4, max_wait_ms=300)
    bodies = [{"inputs": ["good film", "bad plot", "nice"]}] * 6  # 3 inputs each: a batch of 4 holds one request
    responses = asyncio.run(post_all(app, "/v1/classify/predict", bodies))
    assert all(response.status_code == 200 for response in responses)
    assert [len(inputs) for inputs in calls] == [3] * 6


def test_a_bad_input_fails_only_its_own_request():
    predictor = load_runs([RUNS / "dna"])["dna"]
    app = create_app({"dna": predictor}, max_batch=16, max_wait_ms=300)
    bodies = [{"inputs": ["ACGTACGTAC"]}] * 5 + [{"inputs": ["ACGTXX"]}] + [{"inputs": ["GGGCCCAATT"]}] * 4
    responses = asyncio.run(post_all(app, "/v1/dna/predict", bodies))
    assert [response.status_code for response in responses] == [200] * 5 + [422] + [200] * 4
    assert "not a DNA letter" in responses[5].json()["error"]


def test_unseeded_generation_is_batched_and_seeded_generation_is_not():
    predictor = load_runs([RUNS / "lm"])["lm"]
    batched, single = counted(predictor, "generate_batch"), counted(predictor, "generate")
    app = create_app({"lm": predictor}, max_batch=8, max_wait_ms=300)
    prompts = ["the ", "a ", "cat ", "dog "]
    responses = asyncio.run(post_all(app, "/v1/lm/generate", [{"prompt": p, "length": 6} for p in prompts]))
    texts = [response.json()["outputs"][0] for response in responses]
    for text, prompt in zip(texts, prompts, strict=True):
        assert text.startswith(prompt) and len(text) == len(prompt) + 6
    assert len(batched) == 1 and sorted(batched[0]) == sorted(prompts) and not single
    seeded = [{"prompt": p, "length": 6, "seed": 5} for p in prompts]
    responses = asyncio.run(post_all(app, "/v1/lm/generate", seeded))
    reference = load_runs([RUNS / "lm"])["lm"]
    assert [response.json()["outputs"] for response in responses] == [
        [reference.generate(p, length=6, seed=5)] for p in prompts]  # a seed gives what the predictor gives
    assert len(single) == 4
