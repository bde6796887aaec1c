"""Profile the service's hot path under load: py-spy samples one worker while wrk posts uploads.

    .venv/bin/pip install py-spy
    .venv/bin/python -m benchmarks.profile --upload png --seconds 10 [--server app|ceiling] [--gil]

Prints where the samples' own time went by layer of the request path (HTTP server, multipart
parsing, FastAPI, our middleware, decoding, the model, ...), then the functions with the most
samples (inclusive and self), and writes the folded stacks (`--out`, flamegraph/speedscope input).
Samples only threads that are running (py-spy's default), so an idle event loop or an idle thread
pool costs nothing in the figures.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from benchmarks.harness import CONNECTIONS, Server, chosen_model_dir, run_wrk, serve_app, serve_service
from benchmarks.serving import BATCH_CONNECTIONS, SERVERS
from benchmarks.uploads import make_uploads


def function_of(frame: str) -> str:
    """'name (path/file.py:123)' -> 'name (path/file.py)': samples add up per function, not per line."""
    name, _, location = frame.rpartition(" (")
    return f"{name} ({location.rstrip(')').rpartition(':')[0] or location.rstrip(')')})"


# Layers of the request path, by the file of a sample's innermost Python frame; first match wins.
LAYERS = (
    ("model: LiteRT invoke", ("ai_edge_litert/",)),
    (
        "decoding and pixels: Pillow, app.imaging/decoding/preprocessing",
        ("PIL/", "app/imaging.py", "app/decoding.py", "app/preprocessing.py"),
    ),
    ("inference hand-off: app.inference, app.model", ("app/inference.py", "app/model.py")),
    (
        "multipart parsing and UploadFile",
        ("python_multipart/", "multipart/", "starlette/formparsers.py", "tempfile.py"),
    ),
    (
        "our middleware: request id, limits, metrics, JSON log",
        ("app/observability.py", "app/limits.py", "app/logs.py"),
    ),
    ("metrics library", ("prometheus_client/",)),
    ("logging", ("logging/",)),
    ("pydantic: validation, serialisation", ("pydantic/", "pydantic_core/")),
    ("FastAPI: routing, dependencies, response", ("fastapi/",)),
    ("Starlette: routing, requests, responses", ("starlette/",)),
    ("HTTP server: uvicorn, httptools, h11, app.server", ("uvicorn/", "httptools/", "h11/", "app/server.py")),
    ("JSON", ("json/",)),
    ("event loop: asyncio, uvloop", ("asyncio/", "uvloop/")),
    ("threads: queues, futures, locks", ("threading.py", "queue.py", "concurrent/")),
    ("app (other)", ("app/",)),
)


def layer_of(frames: list[str]) -> str:
    """The layer of the innermost frame that has one: numpy called from app.imaging is decoding."""
    for frame in reversed(frames):
        location = frame.rpartition(" (")[2]
        layer = next((name for name, parts in LAYERS if any(part in location for part in parts)), None)
        if layer:
            return layer
    return "other"


def layers(folded: Path) -> str:
    """Self time per layer of the request path, from py-spy's folded output."""
    counts: collections.Counter[str] = collections.Counter()
    for line in folded.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if samples.isdigit():  # py-spy may leave a last line cut short when it is stopped
            counts[layer_of(stack.split(";"))] += int(samples)
    total = sum(counts.values())
    lines = ["--- self time by layer"]
    lines += [f"{100 * n / total:5.1f}%  {name}" for name, n in counts.most_common()]
    return "\n".join(lines)


def top_frames(folded: Path, count: int) -> str:
    """Tables of the most-sampled frames, inclusive and self, from py-spy's folded output."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not samples.isdigit():
            continue
        frames = [function_of(frame) for frame in stack.split(";")]
        n = int(samples)
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"{total} samples"]
    for title, counter in (("inclusive", inclusive), ("self", own)):
        lines.append(f"--- {title}")
        lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in counter.most_common(count)]
    return "\n".join(lines)


def serving(name: str, env: dict[str, str], log_dir: Path) -> contextlib.AbstractContextManager[Server]:
    if name == "app":
        return serve_service("app", env, log_dir)
    return serve_app(name, SERVERS[name], env, log_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--server",
        choices=("service", "app", "ceiling"),
        default="service",
        help="service: uvicorn app.main:app; app: python -m app, WORKERS=1 (the container's command)",
    )
    parser.add_argument(
        "--upload",
        choices=("png", "png_raw", "png_body", "jpeg", "batch", "v2_fp32", "v2_png"),
        default="png",
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--gil", action="store_true", help="only samples of the thread holding the GIL")
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("profile.folded"))
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    model_dir = chosen_model_dir(args.model_dir)
    env = {**os.environ, "MODEL_DIR": str(model_dir.parent), "MODEL_VERSION": model_dir.name}
    with tempfile.TemporaryDirectory(prefix="serving-profile-") as tmp:
        upload = make_uploads(Path(tmp))[args.upload]
        connections = BATCH_CONNECTIONS if upload.files > 1 else CONNECTIONS
        with serving(args.server, env, Path(tmp)) as server:
            run_wrk(server, upload, 1, connections)  # warm-up
            load = threading.Thread(target=run_wrk, args=(server, upload, args.seconds + 2, connections))
            load.start()
            subprocess.run(
                [py_spy, "record", "--pid", str(server.process.pid), "--duration", str(args.seconds)]
                + ["--rate", str(args.rate), "--format", "raw", "--output", str(args.out), "--nonblocking"]
                + (["--gil"] if args.gil else []),
                check=True,
                capture_output=True,
            )
            load.join()
    print(layers(args.out))
    print(top_frames(args.out, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
