"""The JSON API of ``rnnkit serve`` on the tiny fixture run of every task: each endpoint answers what the
predictor's own method answers; every kind of bad request is a 4xx JSON error naming its field, and the server
goes on answering; the bearer token; the OpenAPI description."""

from __future__ import annotations

import base64
import re

import pytest
from fastapi.testclient import TestClient

from rnnkit.serve import ServeLimits, create_app

from .conftest import DATA, series_columns

LIMITS = ServeLimits(max_body_bytes=200_000, max_text_chars=100, max_items=8, max_generate_length=50)
WAV = DATA / "audio" / "train" / "low_s_0.wav"


@pytest.fixture(scope="module")
def client(predictors):
    with TestClient(create_app(predictors, max_batch=8, max_wait_ms=1, limits=LIMITS)) as client:
        yield client


def close(answer, expected, tolerance=1e-5) -> bool:
    """Equal structures; numbers within ``tolerance`` (a batch pads differently from a lone input)."""
    if isinstance(expected, dict):
        return isinstance(answer, dict) and answer.keys() == expected.keys() and all(
            close(answer[key], value, tolerance) for key, value in expected.items())
    if isinstance(expected, list | tuple):
        return isinstance(answer, list) and len(answer) == len(expected) and all(
            close(a, e, tolerance) for a, e in zip(answer, expected, strict=True))
    if isinstance(expected, float):
        return abs(answer - expected) <= tolerance
    return answer == expected


def post(client, path, body):
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()["outputs"]


def test_predict_endpoints_answer_as_the_predictors_do(client, predictors):
    texts = ["the film was great", "boring and dull plot", "awful"]
    assert close(post(client, "/v1/classify/predict", {"inputs": texts}), predictors["classify"].predict(texts))
    sentences = ["John Smith visited Paris", "we met Mr Jordan in Jordan today"]
    assert post(client, "/v1/tag/predict", {"inputs": sentences}) == predictors["tag"].predict(sentences)
    sequences = ["ACGTGGGACTTTCCAAGT", "ttttaaaaccccggggacgt"]
    assert close(post(client, "/v1/dna/predict", {"inputs": sequences}), predictors["dna"].predict(sequences))
    upload = {"name": "low.wav", "data": base64.b64encode(WAV.read_bytes()).decode()}
    [answer] = post(client, "/v1/audio/predict", {"inputs": [upload]})
    [expected] = predictors["audio"].predict([str(WAV)])
    assert answer["file"] == "low.wav" and answer["label"] == expected["label"]
    assert close(answer["probabilities"], expected["probabilities"])


def test_language_model_translation_and_forecast_endpoints(client, predictors):
    lm = predictors["lm"]
    assert close(post(client, "/v1/lm/score", {"inputs": ["the cat sat", "a dog"]}),
                 [lm.score("the cat sat"), lm.score("a dog")])
    assert post(client, "/v1/lm/generate", {"prompt": "the ", "length": 12, "temperature": 0.7, "seed": 3}) == [
        lm.generate("the ", length=12, temperature=0.7, seed=3)]
    assert post(client, "/v1/condgen/generate", {"condition": "sport", "n": 2, "seed": 0}) == predictors[
        "condgen"].generate("sport", n=2, seed=0)
    seq2seq = predictors["seq2seq"]
    [answer] = post(client, "/v1/seq2seq/translate", {"inputs": ["i see a dog ."], "beam_size": 2, "attention": True})
    expected = seq2seq.translate("i see a dog .", beam_size=2)
    assert close({key: answer[key] for key in expected}, expected)
    source, target, weights = seq2seq.attention("i see a dog .", translation=expected["tokens"])
    assert answer["attention"]["source"] == source and answer["attention"]["target"] == target
    assert close(answer["attention"]["weights"], weights.tolist())
    columns = series_columns()
    [forecast] = post(client, "/v1/forecast/forecast", {"data": columns, "horizon": 2, "level": 0.8})
    assert close(forecast, predictors["forecast"].forecast(columns, horizon=2, level=0.8))


def test_service_routes_and_openapi(client, predictors):
    assert client.get("/healthz").json() == {"status": "ok", "runs": sorted(predictors)}
    runs = {run["name"]: run for run in client.get("/v1/runs").json()["runs"]}
    assert runs["lm"]["verbs"] == ["score", "generate"] and runs["classify"]["verbs"] == ["predict"]
    info = client.get("/v1/condgen").json()
    assert info["labels"] == ["sport", "weather"] and info["verbs"]["generate"]["input"] is None
    assert set(info["verbs"]["generate"]["schema"]["properties"]) >= {"condition", "n", "max_length", "guidance"}
    assert "prompt" not in info["verbs"]["generate"]["schema"]["properties"]  # only what the method takes
    assert client.get("/v1/forecast").json()["columns"]["targets"] == ["sales"]
    paths = client.get("/openapi.json").json()["paths"]
    for name, run in runs.items():
        assert all(f"/v1/{name}/{verb}" in paths for verb in run["verbs"])
    assert "evaluate" not in str(paths)  # evaluate reads files on the server: not served
    assert client.get("/docs").status_code == 200
    for page in ("/", "/runs/lm", "/static/run.js", "/static/render.js"):
        assert client.get(page).status_code == 200


def test_the_pages_reference_nothing_outside_the_app():
    from rnnkit.serve.app import STATIC

    for name in ("index.html", "run.html", "common.js", "run.js", "render.js", "style.css"):
        text = (STATIC / name).read_text(encoding="utf-8")
        assert re.search(r"https?://(?!www\.w3\.org/2000/svg)", text) is None, name  # no CDN, no external font
        assert re.search(r"""(src|href)=["']//|url\(\s*["']?//""", text) is None, name  # nor protocol-relative


BAD = [  # (path, body or raw bytes, status, field, words in the message)
    ("/v1/classify/predict", b"{bad json", 400, "body", "malformed JSON"),
    ("/v1/classify/predict", [1, 2], 422, "body", "JSON object"),
    ("/v1/classify/predict", {}, 422, "inputs", "required"),
    ("/v1/classify/predict", {"inputs": []}, 422, "inputs", "at least 1"),
    ("/v1/classify/predict", {"inputs": "a text"}, 422, "inputs", "list"),
    ("/v1/classify/predict", {"inputs": [""]}, 422, "inputs[0]", "at least 1"),
    ("/v1/classify/predict", {"inputs": ["ok", "   "]}, 422, "inputs[1]", "non-empty"),
    ("/v1/classify/predict", {"inputs": ["x" * 101]}, 422, "inputs[0]", "at most 100"),
    ("/v1/classify/predict", {"inputs": ["x"] * 9}, 422, "inputs", "at most 8"),
    ("/v1/classify/predict", {"inputs": [3]}, 422, "inputs[0]", "string"),
    ("/v1/classify/predict", {"inputs": ["x"], "batch_size": 9}, 422, "batch_size", "Extra inputs"),
    ("/v1/lm/generate", {"temperature": "hot"}, 422, "temperature", "number"),
    ("/v1/lm/generate", {"length": 0}, 422, "length", "greater than or equal to 1"),
    ("/v1/lm/generate", {"length": 51}, 422, "length", "less than or equal to 50"),
    ("/v1/lm/generate", {"prompt": "x" * 101}, 422, "prompt", "at most 100"),
    ("/v1/lm/generate", {"top_p": 1.5}, 422, "top_p", "less than or equal to 1"),
    ("/v1/lm/generate", {"guidance": 1.0}, 422, "guidance", "Extra inputs"),
    ("/v1/condgen/generate", {}, 422, "condition", "required"),
    ("/v1/condgen/generate", {"condition": "cooking"}, 422, "condition", "'sport' or 'weather'"),
    ("/v1/condgen/generate", {"condition": "sport", "n": 8, "max_length": 10}, 422, "n", "limit of 50"),
    ("/v1/seq2seq/translate", {"inputs": ["a dog ."], "beam_size": 17}, 422, "beam_size", "less than or equal"),
    ("/v1/dna/predict", {"inputs": ["ACGT", "ACGTZZ"]}, 422, "inputs", "not a DNA letter"),
    ("/v1/audio/predict", {"inputs": [{"name": "x.wav", "data": "not base64"}]}, 422, "inputs[0].data", "Base64"),
    ("/v1/audio/predict", {"inputs": [{"name": "x.wav", "data": ""}]}, 422, "inputs[0].data", "at least 1"),
    ("/v1/audio/predict", {"inputs": [{"name": "junk.wav", "data": "anVuaw=="}]}, 422, "inputs", "junk.wav"),
    ("/v1/audio/predict", {"inputs": ["a.wav"]}, 422, "inputs[0]", "dictionary"),
    ("/v1/forecast/forecast", {"data": {"sales": [1.0, 2.0]}}, 422, "data", "no column"),
    ("/v1/forecast/forecast", {"data": {"sales": ["x"]}, "horizon": 2000}, 422, "horizon", "less than or equal"),
    ("/v1/classify/predict", {"inputs": ["x" * 90] * 8, "pad": "y" * 200_000}, 413, "body", "200,000 bytes"),
]


@pytest.mark.parametrize(("path", "body", "status", "field", "words"), BAD,
                         ids=[f"{index}-{case[3]}" for index, case in enumerate(BAD)])
def test_a_bad_request_is_a_4xx_naming_its_field_and_the_server_lives_on(client, path, body, status, field, words):
    if isinstance(body, bytes):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
    else:
        response = client.post(path, json=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["field"] == field and error["error"].startswith(field) and words in error["error"], error
    assert "\n" not in error["error"]
    assert client.get("/healthz").status_code == 200


def test_a_body_over_the_limit_is_refused_when_sent_in_chunks_too(client):
    chunks = (b"x" * 50_000 for _ in range(5))  # no Content-Length: counted as it arrives
    response = client.post("/v1/classify/predict", content=chunks, headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["field"] == "body"


def test_unknown_runs_verbs_and_methods(client):
    for path in ("/v1/nothing/predict", "/v1/classify/generate", "/runs/nothing"):
        response = client.post(path, json={}) if path.startswith("/v1") else client.get(path)
        assert response.status_code == 404 and "error" in response.json()
    assert client.get("/v1/classify/predict").status_code == 405


def test_a_bearer_token_guards_the_api(predictors):
    with TestClient(create_app({"classify": predictors["classify"]}, token="s3cret")) as client:
        body = {"inputs": ["nice"]}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            response = client.post("/v1/classify/predict", json=body, headers=headers)
            assert response.status_code == 401 and response.json()["field"] == "Authorization"
            assert response.headers["www-authenticate"] == "Bearer"
        malformed = client.post("/v1/classify/predict", content=b"{", headers={"content-type": "application/json"})
        assert malformed.status_code == 401  # refused before the body is read
        good = client.post("/v1/classify/predict", json=body, headers={"Authorization": "Bearer s3cret"})
        assert good.status_code == 200
        assert client.get("/healthz").status_code == 200 and client.get("/runs/classify").status_code == 200


def test_a_predictor_failing_unexpectedly_is_a_500_json_and_the_server_lives_on(predictors):
    class Broken:
        task, labels = "classify", ["neg", "pos"]

        def predict(self, texts, batch_size=64):
            raise RuntimeError("out of memory")

    with TestClient(create_app({"broken": Broken(), "classify": predictors["classify"]})) as client:
        response = client.post("/v1/broken/predict", json={"inputs": ["a"]})
        assert response.status_code == 500 and response.json()["error"] == "internal error: RuntimeError: out of memory"
        assert client.post("/v1/classify/predict", json={"inputs": ["a"]}).status_code == 200


@pytest.mark.parametrize(("keywords", "words"), [({"max_batch": 0}, "--max-batch"),
                                                 ({"max_wait_ms": -1}, "--max-wait-ms"), ({"token": " "}, "--token")])
def test_bad_settings_are_one_line_errors(predictors, keywords, words):
    with pytest.raises(ValueError, match=words):
        create_app({"classify": predictors["classify"]}, **keywords)
    with pytest.raises(ValueError, match="--max-items"):
        ServeLimits(max_items=0)


@pytest.mark.slow  # trains a tiny captioner first (~5-15 s on a shared CPU)
def test_caption_endpoint_takes_uploaded_images(tmp_path):
    import rnnkit as rk
    from rnnkit.tasks import TASKS
    from tests.caption_helpers import write_images
    from tests.contract.tiny_caption import tiny

    TASKS["caption"].train(tmp_path / "captioner", **tiny(tmp_path / "data"))
    predictor = rk.load(tmp_path / "captioner")
    images = [tmp_path / "use" / image for image, _ in write_images(tmp_path / "use", 2, 20)]
    uploads = [{"name": image.name, "data": base64.b64encode(image.read_bytes()).decode()} for image in images]
    with TestClient(create_app({"captioner": predictor})) as client:
        answer = post(client, "/v1/captioner/caption", {"inputs": uploads, "beam_size": 2})
        expected = predictor.caption([str(image) for image in images], beam_size=2)
        assert [record["image"] for record in answer] == [image.name for image in images]
        unnamed = [[{**record, "image": None} for record in records] for records in (answer, expected)]
        assert close(*unnamed)
        broken = {"name": "broken.png", "data": base64.b64encode(b"not a png").decode()}
        response = client.post("/v1/captioner/caption", json={"inputs": [broken]})
        assert response.status_code == 422 and "broken.png" in response.json()["error"], response.text
