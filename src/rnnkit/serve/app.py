"""The ASGI app of ``rnnkit serve``: a JSON endpoint per verb of each run, /healthz, OpenAPI docs, a page per run.

Routes::

    GET  /                      the page listing the runs
    GET  /runs/{run}            the run's page (a form per verb; plain HTML and JS from static/)
    GET  /healthz               {"status": "ok", "runs": [...]}
    GET  /v1/runs               the runs, their tasks and verbs
    GET  /v1/{run}              one run: its verbs, each with its input kind and request schema; labels, columns
    POST /v1/{run}/{verb}       {"outputs": [...]}: one output per input (predict, score, translate, caption), the
                                generated texts (generate), the forecast (forecast)
    GET  /docs, /openapi.json   the OpenAPI description, a request model per run and verb

Every error is a JSON object ``{"error": "<field>: <what was wrong>", "field": "<field>"}``: 400 malformed JSON,
401 no or a wrong bearer token, 404 no such run or verb, 413 a body over the limit, 422 a missing, unknown, wrong or
oversized field or an input the predictor refused (its one-line message).
"""

import asyncio
import secrets
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from .batching import InputError, MicroBatcher
from .limits import ServeLimits
from .verbs import Call, VerbSpec, answer, group_key, jsonable, served_verbs, verb_spec

STATIC = files("rnnkit.serve") / "static"


def _error(status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status, headers=headers)


def _field_name(location: tuple[Any, ...]) -> str:
    """``("body", "inputs", 0, "data")`` -> ``"inputs[0].data"``."""
    name = ""
    for part in location[1:] if location and location[0] == "body" else location:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


class Guard:
    """ASGI middleware: the bearer token on /v1/ (when one is set), then the body-size limit, before any parsing.

    The body is read here (at most ``max_body_bytes`` of it) and handed on whole, so a body over the limit is
    refused with 413 however it is sent (with a Content-Length or chunked).
    """

    def __init__(self, app: Any, token: str | None, max_body_bytes: int) -> None:
        self.app, self.token, self.max_body_bytes = app, token, max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        if self.token is not None and scope["path"].startswith("/v1/"):
            given = headers.get("authorization", "")
            if not secrets.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                response = _error(401, "Authorization: missing or wrong bearer token; expected "
                                       "'Authorization: Bearer <token>'", "Authorization",
                                  {"WWW-Authenticate": "Bearer"})
                return await response(scope, receive, send)
        declared = headers.get("content-length", "")
        too_large = _error(413, f"body: over the limit of {self.max_body_bytes:,} bytes (--max-body-bytes)", "body")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return await too_large(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                return await too_large(scope, receive, send)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


def describe(predictor: Any) -> dict[str, Any]:
    """What a client needs to know of a run besides its verbs: its labels, its series' columns."""
    description: dict[str, Any] = {"task": predictor.task}
    labels = getattr(predictor, "labels", None)
    if isinstance(labels, list | tuple):
        description["labels"] = [str(label) for label in labels]
    series = getattr(predictor, "series", None)
    if series is not None and hasattr(series, "targets"):
        description["columns"] = {"targets": list(series.targets), "date_column": series.date_column,
                                  "features": list(series.features)}
        description["window"] = getattr(predictor, "window", None)
    return description


class ServedRun:
    """A run being served: its predictor, its worker thread, a request model and a batcher per verb."""

    def __init__(self, name: str, predictor: Any, limits: ServeLimits, max_batch: int, max_wait: float) -> None:
        self.name, self.predictor = name, predictor
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"rnnkit-serve-{name}")
        self.specs: dict[str, VerbSpec] = {verb: verb_spec(predictor, verb, limits, name)
                                           for verb in served_verbs(predictor)}
        self.batchers = {verb: MicroBatcher(lambda calls, spec=spec: answer(predictor, spec, calls), self.executor,
                                            max_batch, max_wait) for verb, spec in self.specs.items()}

    def info(self) -> dict[str, Any]:
        verbs = {verb: {"input": spec.input_kind, "attention": spec.attention, "schema": spec.model.model_json_schema()}
                 for verb, spec in self.specs.items()}
        return {"name": self.name, **describe(self.predictor), "verbs": verbs}


def create_app(predictors: Mapping[str, Any], max_batch: int = 32, max_wait_ms: float = 2.0, token: str | None = None,
               limits: ServeLimits | None = None) -> Any:
    """The ASGI app serving ``predictors`` (run name -> predictor, e.g. ``rk.load(run)``).

    Args:
        max_batch: Most inputs one predictor call answers (1: every request alone).
        max_wait_ms: Milliseconds a batch waits for more requests after its first.
        token: When given, every /v1/ request needs ``Authorization: Bearer <token>``.
        limits: Sizes a request may ask for (:class:`ServeLimits`).
    """
    if max_batch < 1:
        raise ValueError(f"--max-batch: got {max_batch}; expected a positive integer")
    if not max_wait_ms >= 0:
        raise ValueError(f"--max-wait-ms: got {max_wait_ms}; expected a number of milliseconds >= 0")
    if token is not None and not token.strip():
        raise ValueError("--token: got an empty token; expected a secret string (or no --token)")
    limits = limits or ServeLimits()
    runs = {name: ServedRun(name, predictor, limits, max_batch, max_wait_ms / 1000)
            for name, predictor in predictors.items()}
    app = FastAPI(title="rnnkit serve", version="1", description="The verbs of trained rnnkit runs as JSON endpoints.")
    app.state.runs = runs

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Any, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        field = _field_name(tuple(first.get("loc", ())))
        if first.get("type") == "json_invalid":
            return _error(400, f"body: malformed JSON ({first.get('ctx', {}).get('error', first['msg'])}); expected "
                               "a JSON object", "body")
        if field == "body" and first.get("type") != "missing":
            return _error(422, f"body: {first['msg']}; expected a JSON object", "body")
        return _error(422, f"{field}: {first['msg']}", field)

    @app.exception_handler(HTTPException)
    async def http_error(request: Any, error: HTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail), None, getattr(error, "headers", None))

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "runs": sorted(runs)}

    @app.get("/v1/runs", tags=["service"])
    async def list_runs() -> dict[str, Any]:
        return {"runs": [{"name": name, "task": run.predictor.task, "verbs": list(run.specs), "page": f"/runs/{name}"}
                         for name, run in runs.items()]}

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"))

    @app.get("/runs/{name}", include_in_schema=False)
    async def page(name: str) -> FileResponse:
        if name not in runs:
            raise HTTPException(404, f"run: no run named {name!r}; this server has {', '.join(sorted(runs))}")
        return FileResponse(str(STATIC / "run.html"))

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for name, run in runs.items():
        app.add_api_route(f"/v1/{name}", _info_endpoint(run), methods=["GET"], tags=[name], summary=f"{name}: info")
        for verb, spec in run.specs.items():
            app.add_api_route(f"/v1/{name}/{verb}", _verb_endpoint(run, spec, limits), methods=["POST"], tags=[name],
                              summary=f"{name}: {verb}")
    return Guard(app, token, limits.max_body_bytes)


def _info_endpoint(run: ServedRun) -> Any:
    async def info() -> dict[str, Any]:
        return run.info()

    return info


def _verb_endpoint(run: ServedRun, spec: VerbSpec, limits: ServeLimits) -> Any:
    input_field = {"text": "inputs", "file": "inputs", "columns": "data"}.get(spec.input_kind or "", "body")

    async def endpoint(body: spec.model) -> Any:  # type: ignore[name-defined]
        options = {name: getattr(body, name) for name in spec.options}
        if spec.attention:
            options["attention"] = body.attention
        length = options.get("length") or options.get("max_length")
        if options.get("n") and length and options["n"] * length > limits.max_generate_length:
            return _error(422, f"n: {options['n']} texts x {length} tokens exceeds the limit of "
                               f"{limits.max_generate_length:,} tokens a request (--max-generate-length)", "n")
        inputs = getattr(body, input_field, None)
        call = Call(inputs, options)
        size = len(inputs) if isinstance(inputs, list) else 1
        try:
            outputs = await run.batchers[spec.verb].submit(call, group_key(run.predictor, spec, call), size)
        except InputError as error:
            message = str(error) if str(error).startswith(input_field) else f"{input_field}: {error}"
            return _error(422, message, input_field)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - logged by the batcher; this request gets a 500, the server lives
            return _error(500, f"internal error: {type(error).__name__}: {error}"[:500])
        return JSONResponse({"run": run.name, "outputs": jsonable(outputs)})

    endpoint.__name__ = f"{run.name}_{spec.verb}".replace("-", "_").replace(".", "_")
    return endpoint


__all__ = ["Guard", "ServedRun", "create_app", "describe"]
