"""The prediction routes' fast lane: ASGI straight to the prediction path, for requests it fully understands.

POST /predict, /models/{name}[/versions/{v}]/predict and /v2/models/{name}[/versions/{v}]/infer
are the hot routes. Through FastAPI, routing, dependency solving, form parsing into `UploadFile`s and
response validation took ~40 % of the event loop's time per request (docs/performance.md). This
middleware sits inside every other one (request id, metrics and log line, body limit, protocol error
envelopes) and serves those routes itself with the functions the FastAPI handlers call
(`app.inference.classify`, `app.routes.oip.run_inference`), answering errors through the same
mapping (`app.errors`).

It takes only what it understands completely: the query parameters `preprocess` and `return_input`
with valid values (none for infer), a path whose version is a number, a model that exists, a body
that is one image (an image Content-Type), a v2 request, or a multipart form holding exactly one part,
`file`, with a filename and no header but Content-Disposition and Content-Type. Everything else goes
on to FastAPI, with the body replayed when it was read: its answer, 4xx or not, is FastAPI's, word for
word. So does every request while a test overrides a dependency. The model version is picked when the
request arrives, before its body is read (FastAPI picks it after): a request keeps the version it came in on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.errors import MAPPED, error_response
from app.inference import classify
from app.limits import path_in_app
from app.model import Classifier
from app.oip import HEADER_LENGTH
from app.repository import ModelRepository, ModelUnavailable, UnknownModel
from app.routes.oip import is_version_number, run_inference
from app.routes.predict import is_image_body
from app.schemas import PreprocessMode

PREPARATIONS = frozenset(get_args(PreprocessMode))
BOOLEAN_QUERY_VALUES = {"true": True, "false": False, "1": True, "0": False}
JSON, OCTETS = b"application/json", b"application/octet-stream"
CONTENT_TYPE, INFERENCE_HEADER_LENGTH = b"content-type", HEADER_LENGTH.encode()
HEADERS_READ = (CONTENT_TYPE, INFERENCE_HEADER_LENGTH)  # the request headers the lane looks at
# The one part a fast-lane form may hold: Content-Disposition exactly as browsers, curl, requests and
# httpx write it for a file field named "file" with a file chosen (an empty filename is a form sent
# without one: FastAPI's "field required"; anything else goes to the full parser too).
FILE_DISPOSITION = re.compile(rb'form-data; name="file"; filename="[^"\\\r\n]+"')
# A boundary bare or in double quotes, of characters RFC 2046 allows (no spaces: those need the full parser).
BOUNDARY = re.compile(rb'boundary=(?:"([0-9A-Za-z\'()+_,\-./:=?]{1,70})"|([0-9A-Za-z\'()+_,\-./:=?]{1,70}))')


@dataclass(frozen=True)
class Route:
    """A fast-lane route: its path template (what FastAPI's route reports), and what it serves."""

    path_format: str  # read by app.observability for the metrics' route label and the log line
    kind: Literal["predict", "infer"]


PREDICT = Route("/predict", "predict")
NAMED_PREDICT = Route("/models/{name}/predict", "predict")
VERSION_PREDICT = Route("/models/{name}/versions/{version}/predict", "predict")
INFER = Route("/v2/models/{name}/infer", "infer")
VERSION_INFER = Route("/v2/models/{name}/versions/{version}/infer", "infer")


@dataclass(frozen=True)
class Target:
    """A matched request: the route, the model's name (None: the default) and version (None: newest)."""

    route: Route
    name: str | None = None
    version: int | None = None


def match(path: str) -> Target | None:
    """The fast-lane route serving `path`, with its model and version; None for any other path."""
    if path == "/predict":
        return Target(PREDICT)
    parts = path.split("/")
    if parts[-1] == "predict" and parts[1] == "models":
        named, versioned = NAMED_PREDICT, VERSION_PREDICT
        parts = parts[2:-1]
    elif parts[-1] == "infer" and parts[1:3] == ["v2", "models"]:
        named, versioned = INFER, VERSION_INFER
        parts = parts[3:-1]
    else:
        return None
    if len(parts) == 1 and parts[0]:
        return Target(named, parts[0])
    if len(parts) == 3 and parts[0] and parts[1] == "versions" and is_version_number(parts[2]):
        return Target(versioned, parts[0], int(parts[2]))
    return None


def predict_options(query: bytes) -> tuple[str, bool] | None:
    """(preprocess, return_input) from a query string; None when it holds anything else."""
    preprocess, return_input = "auto", False
    if not query:
        return preprocess, return_input
    seen: set[str] = set()
    for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if key in seen:
            return None
        seen.add(key)
        if key == "preprocess" and value in PREPARATIONS:
            preprocess = value
        elif key == "return_input" and value in BOOLEAN_QUERY_VALUES:
            return_input = BOOLEAN_QUERY_VALUES[value]
        else:
            return None
    return preprocess, return_input


def form_file(body: bytes, content_type: bytes) -> bytes | None:
    """The file of a multipart form holding exactly one part, `file`, with a filename; else None."""
    media_type, _, parameters = content_type.partition(b";")
    found = BOUNDARY.fullmatch(parameters.strip())
    if media_type.strip().lower() != b"multipart/form-data" or found is None:
        return None
    boundary = found.group(1) or found.group(2)
    first = b"--" + boundary + b"\r\n"
    if not body.startswith(first):
        return None
    head_end = body.find(b"\r\n\r\n", len(first))
    if head_end < 0:
        return None
    disposition = False
    for line in body[len(first) : head_end].split(b"\r\n"):
        header, _, value = line.partition(b":")
        header, value = header.lower(), value.strip()
        if header == b"content-disposition" and not disposition and FILE_DISPOSITION.fullmatch(value):
            disposition = True
        elif header != b"content-type" or not value:
            return None
    if not disposition:
        return None
    start, delimiter = head_end + 4, b"\r\n--" + boundary
    end = body.find(delimiter, start)
    if end < 0 or body[end + len(delimiter) :] not in (b"--", b"--\r\n"):
        return None  # a second part, an epilogue, or no closing delimiter
    return body[start:end]


def request_headers(scope: Scope) -> dict[bytes, bytes]:
    """The headers the lane reads, each its first value (as Starlette's `request.headers.get`)."""
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in HEADERS_READ and name not in found:
            found[name] = value
    return found


def upload(body: bytes, content_type: bytes) -> bytes | None:
    """The image of a /predict body: the body itself under an image Content-Type, or a one-file form."""
    if is_image_body(content_type.decode("latin-1")):
        return body
    return form_file(body, content_type)


def find_classifier(models: ModelRepository | None, target: Target) -> Classifier | None:
    """The model version a request names; None when FastAPI should answer (no such model, none loaded)."""
    if models is None:
        return None
    try:
        return models.get(target.name, target.version)
    except (UnknownModel, ModelUnavailable):
        return None


async def read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body, and whether it is complete (False: the client went away before the end)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks), True
        elif message["type"] == "http.disconnect":
            return b"".join(chunks), False


def replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """`receive` for the next app: the body already read, then whatever the client sends next
    (after an incomplete body, the disconnect the lane saw)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replayed


async def answer(send: Send, body: bytes, media_type: bytes, header_length: int | None = None) -> None:
    """A 200 with `body`: the headers a Starlette Response would send, and the v2 header's length."""
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", media_type)]
    if header_length is not None:
        headers.append((INFERENCE_HEADER_LENGTH, str(header_length).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class FastLane:
    """Serves the hot prediction routes' ordinary requests; passes every other request to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = None
        if scope["type"] == "http" and scope["method"] == "POST":
            target = match(path_in_app(scope["path"], scope.get("root_path", "")))
        service = scope.get("app")
        if target is None or service is None or service.dependency_overrides:
            await self.app(scope, receive, send)
            return
        classifier = find_classifier(service.state.models, target)
        if target.route.kind == "predict":
            options = predict_options(scope["query_string"])
        else:  # infer takes no query parameters: any query string is FastAPI's to judge
            options = None if scope["query_string"] else ("auto", False)
        if classifier is None or options is None:
            await self.app(scope, receive, send)
            return
        body, complete = await read_body(receive)
        headers = request_headers(scope)
        data = body if target.route.kind == "infer" else upload(body, headers.get(CONTENT_TYPE, b""))
        if not complete or data is None:  # FastAPI's parsing and validation decide (a 400, 422, ...)
            await self.app(scope, replay(body, complete, receive), send)
            return
        del body  # a form's file is a copy: the rest of the body need not stay in memory meanwhile
        scope["route"] = target.route  # the route's template, for the metrics and the log line
        settings: Settings = service.state.settings
        try:
            if target.route.kind == "infer":
                await self.infer(
                    scope, send, classifier, settings, data, headers.get(INFERENCE_HEADER_LENGTH)
                )
            else:
                await self.predict(scope, send, classifier, settings, data, *options)
        except MAPPED as error:
            await error_response(error)(scope, receive, send)

    @staticmethod
    async def predict(
        scope: Scope,
        send: Send,
        classifier: Classifier,
        settings: Settings,
        data: bytes,
        preprocess: str,
        return_input: bool,
    ) -> None:
        """What POST /predict does with an upload (`app.routes.predict.predict_one`)."""
        prediction = await classify(classifier, data, preprocess, settings.decode_limits, return_input)
        scope.setdefault("state", {})["outcomes"] = [prediction]
        await answer(send, prediction.model_dump_json().encode(), JSON)

    @staticmethod
    async def infer(
        scope: Scope,
        send: Send,
        classifier: Classifier,
        settings: Settings,
        body: bytes,
        declared: bytes | None,
    ) -> None:
        """What POST .../infer does with a request (`app.routes.oip.infer`)."""
        header_length = None if declared is None else declared.decode("latin-1")
        predictions, content, length = await run_inference(classifier, settings, body, header_length)
        scope.setdefault("state", {})["outcomes"] = predictions
        await answer(send, content, JSON if length is None else OCTETS, length)
