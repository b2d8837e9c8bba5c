"""The verbs a served run answers, read off its predictor: a request model per verb and the call that answers a
batch of requests.

Nothing here asks which task a run is. A verb is served when the run's task declares it (``Task.verbs``) and it
reads its inputs from the request (``evaluate`` reads files on the server: not served). The request model of a verb
is built from the predictor method's own signature: an option (``temperature``, ``beam_size``, ``horizon``) is a
field only when the method has a parameter of that name, required when the parameter has no default. The inputs
field follows the method's first parameter: ``files`` / ``images`` take uploaded files (base64), ``data`` takes a
table of columns, anything else takes texts.

A batch is answered by one predictor call where the verb has a batched form (``predict``, ``translate`` and
``caption`` take lists; ``generate`` has ``generate_batch`` on language models, used for unseeded requests), and
item by item otherwise (``score``, ``forecast``, seeded ``generate``).
"""

from __future__ import annotations

import inspect
import json
import math
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import AfterValidator, Base64Bytes, BaseModel, ConfigDict, Field, create_model

from ..tasks import TASKS
from .limits import ServeLimits

SERVED_VERBS = ("predict", "score", "generate", "translate", "forecast", "caption")
BATCHED_VERBS = ("predict", "translate", "caption")  # their method takes a list of inputs
FILE_PARAMETERS = ("files", "images")
COLUMNS_PARAMETER = "data"
GENERATE_INPUTS = ("prompt", "condition")


class Request(BaseModel):
    """Base of every request model: an unknown field is an error naming it, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class UploadedFile(Request):
    """A file sent in JSON: its name (for the answer) and its bytes, base64-encoded."""

    name: Annotated[str, Field(min_length=1, max_length=255)]
    data: Annotated[Base64Bytes, Field(min_length=1)]


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("expected a non-empty text")
    return text


def option_fields(limits: ServeLimits) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Method parameters that a request may set: their types and bounds (keywords of pydantic's ``Field``)."""
    return {
        "prompt": (str, {"max_length": limits.max_text_chars}),
        "length": (int, {"ge": 1, "le": limits.max_generate_length}),
        "max_length": (int, {"ge": 1, "le": limits.max_generate_length}),
        "n": (int, {"ge": 1, "le": limits.max_items}),
        "temperature": (float, {"ge": 0, "le": 100}),
        "top_k": (int, {"ge": 1}),
        "top_p": (float, {"gt": 0, "le": 1}),
        "seed": (int, {"ge": 0, "lt": 2**63}),
        "guidance": (float, {"ge": 0, "le": 100}),
        "beam_size": (int, {"ge": 1, "le": limits.max_beam_size}),
        "truncate": (bool, {}),
        "horizon": (int, {"ge": 1, "le": limits.max_horizon}),
        "level": (float, {"gt": 0, "lt": 1}),
    }


@dataclass(frozen=True)
class VerbSpec:
    """How one verb of one run is served.

    Attributes:
        verb: The verb (``predict``).
        model: The pydantic request model (its JSON schema is in /docs and drives the page's form).
        input_kind: ``"text"``, ``"file"``, ``"columns"`` or None (``generate``: its inputs are options).
        options: The request fields passed to the method by name.
        attention: Whether a request may ask for the attention weights (the predictor has ``attention``).
    """

    verb: str
    model: type[Request]
    input_kind: str | None
    options: tuple[str, ...]
    attention: bool = False


def served_verbs(predictor: Any) -> tuple[str, ...]:
    """The verbs of ``predictor``'s task that a request can use."""
    return tuple(verb for verb in TASKS[predictor.task].verbs if verb in SERVED_VERBS)


def verb_spec(predictor: Any, verb: str, limits: ServeLimits, run: str) -> VerbSpec:
    """The request model and call plan of ``verb`` on ``predictor``, from its method's signature."""
    parameters = list(inspect.signature(getattr(predictor, verb)).parameters.values())
    first = parameters[0].name if parameters else ""
    fields: dict[str, Any] = {}
    input_kind: str | None = None
    if verb == "generate":
        pass  # prompt / condition are options below
    elif first in FILE_PARAMETERS:
        input_kind = "file"
        fields["inputs"] = (list[UploadedFile], Field(min_length=1, max_length=limits.max_items))
    elif first == COLUMNS_PARAMETER:
        input_kind = "columns"
        rows = limits.max_series_rows
        fields["data"] = (dict[str, Annotated[list[float | str | None], Field(min_length=1, max_length=rows)]],
                          Field(min_length=1, description="column name -> one value per time step, oldest first"))
    else:
        input_kind = "text"
        text = Annotated[str, Field(min_length=1, max_length=limits.max_text_chars), AfterValidator(_not_blank)]
        fields["inputs"] = (list[text], Field(min_length=1, max_length=limits.max_items))
    known = option_fields(limits)
    labels = getattr(predictor, "labels", None)
    if isinstance(labels, list) and labels and all(isinstance(label, str) for label in labels):
        known["condition"] = (Literal[tuple(labels)], {})  # a condition outside the labels: 422 naming it
    options = []
    for parameter in parameters[0 if input_kind is None else 1:]:
        if parameter.name not in known:
            continue  # batch_size, plot, ...: the server's business, not the request's
        kind, bounds = known[parameter.name]
        if parameter.default is inspect.Parameter.empty:
            fields[parameter.name] = (kind, Field(**bounds))
        else:
            shown = parameter.default if isinstance(parameter.default, int | float | str) else "the run's"
            fields[parameter.name] = (kind | None, Field(default=None, description=f"default: {shown}", **bounds))
        options.append(parameter.name)
    attention = verb == "translate" and callable(getattr(predictor, "attention", None))
    if attention:
        fields["attention"] = (bool, Field(default=False, description="add each translation's attention weights"))
    name = re.sub(r"\W", "_", f"{run}_{verb}").title().replace("_", "") + "Request"
    return VerbSpec(verb, create_model(name, __base__=Request, **fields), input_kind, tuple(options), attention)


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON: tensors and arrays as lists, numpy scalars as numbers, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, torch.Tensor | np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class Call:
    """One request, validated: its inputs (texts, files, columns, or None) and the options it set."""

    inputs: Any
    options: dict[str, Any]


def _call_files(method: Callable, files: Sequence[UploadedFile], options: dict[str, Any]) -> list[dict[str, Any]]:
    """``method`` on uploaded files: written to a private temporary folder, answered under their own names."""
    with tempfile.TemporaryDirectory(prefix="rnnkit-serve-") as folder:
        paths = []
        for index, upload in enumerate(files):
            suffix = re.sub(r"[^A-Za-z0-9.]", "", Path(upload.name).suffix)[:16]
            path = Path(folder) / f"upload{index}{suffix}"
            path.write_bytes(upload.data)
            paths.append(str(path))
        try:
            records = method(paths, **options)
        except ValueError as error:  # name the upload, not the temporary file
            message = str(error)
            for path, upload in zip(paths, files, strict=True):
                message = message.replace(path, upload.name)
            raise ValueError(message) from None
    records = [records] if isinstance(records, dict) else records
    names = {path: upload.name for path, upload in zip(paths, files, strict=True)}
    return [{key: names.get(value, value) if isinstance(value, str) else value for key, value in record.items()}
            for record in records]


def answer(predictor: Any, spec: VerbSpec, calls: Sequence[Call]) -> list[list[Any]]:
    """The outputs of each call: one predictor call for all of them where the verb has a batched form.

    All ``calls`` share the same options (the batcher groups them so).
    """
    method = getattr(predictor, spec.verb)
    options = {name: value for name, value in calls[0].options.items() if name in spec.options and value is not None}
    takes_batch_size = "batch_size" in inspect.signature(method).parameters
    if spec.verb in BATCHED_VERBS:
        flat = [item for call in calls for item in call.inputs]
        if takes_batch_size:
            options["batch_size"] = max(1, len(flat))
        if spec.input_kind == "file":
            outputs = _call_files(method, flat, options)
        else:
            outputs = method(list(flat), **options)
        outputs = [outputs] if isinstance(outputs, dict) else list(outputs)
        if spec.attention and calls[0].options.get("attention"):
            outputs = [_with_attention(predictor, record, options.get("truncate") or False) for record in outputs]
        split, start = [], 0
        for call in calls:
            split.append(outputs[start:start + len(call.inputs)])
            start += len(call.inputs)
        return split
    if spec.verb == "generate":
        batch = getattr(predictor, "generate_batch", None)
        if callable(batch) and "prompt" in spec.options and options.get("seed") is None and len(calls) > 1:
            prompts = [call.options.get("prompt") or "" for call in calls]
            rest = {name: value for name, value in options.items() if name != "prompt"}
            return [[text] for text in batch(prompts, **rest)]
        results = []
        for call in calls:
            own = {name: value for name, value in call.options.items() if name in spec.options and value is not None}
            generated = method(**own)
            results.append([generated] if isinstance(generated, str) else list(generated))
        return results
    return [[method(item, **options) for item in ([call.inputs] if spec.input_kind == "columns" else call.inputs)]
            for call in calls]


def group_key(predictor: Any, spec: VerbSpec, call: Call) -> str:
    """Calls with equal keys may share one predictor call: equal options, except the prompt of a batched
    ``generate`` (``generate_batch`` takes one prompt per text)."""
    options = dict(call.options)
    if spec.verb == "generate" and callable(getattr(predictor, "generate_batch", None)) and options.get("seed") is None:
        options.pop("prompt", None)
    return json.dumps(options, sort_keys=True, default=str)


def _with_attention(predictor: Any, record: dict[str, Any], truncate: bool) -> dict[str, Any]:
    source, target, weights = predictor.attention(record["source"], translation=record["tokens"], truncate=truncate)
    return {**record, "attention": {"source": source, "target": target, "weights": weights}}


__all__ = ["SERVED_VERBS", "Call", "Request", "UploadedFile", "VerbSpec", "answer", "group_key", "jsonable",
           "served_verbs", "verb_spec"]
