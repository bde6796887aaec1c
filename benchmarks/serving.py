"""Serving benchmark: the service against its baselines, side by side in one run.

    .venv/bin/python -m benchmarks.serving          # ~3 minutes; writes benchmarks/results/serving.json
    .venv/bin/python -m benchmarks.serving --smoke  # seconds: 1-second runs, service and ceiling only

Servers, each its own one-worker uvicorn process started the same way, loaded by `wrk`
(2 threads, 16 connections) posting one multipart upload over and over:
- service:  `app.main:app`, the real thing;
- ceiling:  `benchmarks.ceiling:app`, FastAPI upload parsing + our decoding, a constant answer;
- tutorial: `benchmarks.tutorial:app`, Keras `model.predict` per request on our own model.
Uploads: a 28x28 PNG test image, and a ~500 px shop-photo JPEG made from one (dark garment on
a white background, tinted). Beside them: in-process LiteRT time per image at batch 1 and 64,
and /predict/batch with 64 PNGs per request. Ratios are taken within the run, so they hold on
any machine; the absolute figures are this machine's.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import http.client
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from app.config import REPO_ROOT, get_settings
from app.imaging import encode_png
from app.model import load_classifier, resolve_version_dir
from app.preprocessing import prepare_batch
from benchmarks.uvicorn_process import free_port, running_uvicorn
from training.data import FILES, SHA256, find_data_dir, read_idx

LUA_SCRIPT = Path(__file__).with_name("post_file.lua")
RESULTS = Path(__file__).with_name("results") / "serving.json"
SERVERS = {
    "service": "app.main:app",
    "ceiling": "benchmarks.ceiling:app",
    "tutorial": "benchmarks.tutorial:app",
}
CONNECTIONS = 16
WRK_THREADS = 2
BATCH = 64
BATCH_CONNECTIONS = 4  # each request carries 64 images; 4 in flight keep one worker busy
SHOP_PHOTO_SIZE = 500
OTHER_CORES_WARNING = 0.1  # CPU used by anything else during a run above this: its figures are disturbed
START_TIMEOUT_S = 120  # the tutorial server imports TensorFlow

# The goals: key -> (description, target); AT_MOST goals pass at or below the target.
GOALS = {
    "ideal_png": ("/predict PNG >= 0.85 x ideal", 0.85),
    "ideal_jpeg": ("/predict JPEG >= 0.85 x ideal", 0.85),
    # The issue measured the tutorial with the 28x28 PNG. For the shop photo, decoding alone keeps
    # even the no-model ceiling near 15x the tutorial: ratios has that figure, not a goal.
    "tutorial_png": ("/predict PNG >= 30 x tutorial", 30.0),
    "rss": ("worker peak RSS <= 150 MB", 150.0),
    "start": ("start to /health 200 <= 1 s", 1.0),
    "batch": ("/predict/batch images/s >= 0.8 x LiteRT batch 64", 0.8),
    "errors": ("zero errors (non-2xx + socket errors)", 0.0),
}
AT_MOST = {"rss", "start", "errors"}


@dataclass(frozen=True)
class Upload:
    """A prepared multipart body on disk, for wrk and for the first checked request."""

    name: str
    path: str  # URL path
    body_file: Path
    content_type: str
    files: int  # images per request


@dataclass
class Plan:
    duration_s: float
    tutorial_duration_s: float
    warmup_s: float
    litert_s: float
    starts: int
    servers: tuple[str, ...]
    model_dir: Path
    out: Path


# ---- inputs ----------------------------------------------------------------------------------


def test_images(count: int) -> np.ndarray:
    """The first `count` Fashion-MNIST test images (uint8, N x 28 x 28)."""
    directory = find_data_dir(download=False)
    images, _ = read_idx(directory / FILES["test_images"], SHA256["test_images"])
    return images[:count]


def shop_photo_jpeg(pixels: np.ndarray, size: int = SHOP_PHOTO_SIZE) -> bytes:
    """A test image as a shop photo: upscaled, dark garment on white, warm tint, JPEG."""
    garment = Image.fromarray(pixels).resize((size, size), Image.Resampling.LANCZOS)
    inverted = ImageOps.invert(garment)
    tinted = ImageOps.colorize(inverted, black=(60, 40, 30), white=(250, 247, 240))
    buffer = io.BytesIO()
    tinted.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def multipart(field_name: str, files: list[tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body with one part per file, all under `field_name`."""
    boundary = "----fashion-mnist-benchmark-boundary"
    chunks = []
    for filename, data, media_type in files:
        head = (
            f"--{boundary}\r\nContent-Disposition: form-data; name={json.dumps(field_name)}; "
            f"filename={json.dumps(filename)}\r\nContent-Type: {media_type}\r\n\r\n"
        )
        chunks += [head.encode(), data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def make_uploads(directory: Path) -> dict[str, Upload]:
    images = test_images(BATCH)
    uploads = {
        "png": ("/predict", "file", [("boot.png", encode_png(images[0]), "image/png")]),
        "jpeg": ("/predict", "file", [("boot.jpg", shop_photo_jpeg(images[0]), "image/jpeg")]),
        "batch": (
            "/predict/batch",
            "files",
            [(f"{i}.png", encode_png(image), "image/png") for i, image in enumerate(images)],
        ),
    }
    result = {}
    for name, (path, field_name, files) in uploads.items():
        body, content_type = multipart(field_name, files)
        body_file = directory / f"{name}.body"
        body_file.write_bytes(body)
        result[name] = Upload(name, path, body_file, content_type, len(files))
    return result


# ---- servers ---------------------------------------------------------------------------------


def request(
    port: int, method: str, path: str, body: bytes = b"", content_type: str = ""
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": content_type} if content_type else {}
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads)."""
    stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU time the whole machine has spent busy (all CPUs, niced work included) since boot."""
    user, nice, system, _idle, _iowait, irq, softirq = map(int, Path("/proc/stat").read_text().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """User + system CPU time of this process's finished children (the wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    start_s: float
    log: Path


@contextlib.contextmanager
def serve(name: str, env: dict[str, str], log_dir: Path) -> Iterator[Server]:
    """Start one one-worker uvicorn process, wait for /health 200, stop it afterwards."""
    port = free_port()
    log = log_dir / f"{name}-{port}.log"
    started = time.perf_counter()
    with running_uvicorn(
        SERVERS[name], port, log, env, ["--log-level", "warning"], timeout_s=START_TIMEOUT_S, poll_s=0.005
    ) as process:
        yield Server(name, process, port, time.perf_counter() - started, log)


def check_answer(server: Server, upload: Upload) -> None:
    """One request before the load: it must succeed and look like a prediction."""
    status, body = request(
        server.port, "POST", upload.path, upload.body_file.read_bytes(), upload.content_type
    )
    if status != 200:
        raise RuntimeError(f"{server.name} {upload.path} answered {status}: {body[:300]!r}")
    answer = json.loads(body)
    if upload.files > 1:
        results = answer["results"]
        if len(results) != upload.files or any(r["status_code"] != 200 for r in results):
            raise RuntimeError(f"{server.name} batch answer is incomplete: {body[:300]!r}")
    elif "class_id" not in answer:
        raise RuntimeError(f"{server.name} answered no class_id: {body[:300]!r}")


def run_wrk(server: Server, upload: Upload, duration_s: float, connections: int) -> dict[str, Any]:
    """Load one server with wrk; req/s, latency percentiles, errors, server CPU per request."""
    threads = min(WRK_THREADS, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s"]
    command += ["--timeout", "30s", "-s", str(LUA_SCRIPT), f"http://127.0.0.1:{server.port}{upload.path}"]
    env = {**os.environ, "BODY_FILE": str(upload.body_file), "CONTENT_TYPE": upload.content_type}
    cpu_before, busy_before, wrk_before = cpu_seconds(server.process.pid), busy_seconds(), children_cpu()
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(server.process.pid) - cpu_before
    wrk_cpu = children_cpu() - wrk_before
    others = busy_seconds() - busy_before - cpu - wrk_cpu
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    raw = json.loads(line.removeprefix("WRK_JSON "))
    seconds = raw["duration_us"] / 1e6
    errors = sum(
        raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "status_errors")
    )
    return {
        "upload": upload.name,
        "connections": connections,
        "seconds": round(seconds, 2),
        "requests": raw["requests"],
        "requests_per_s": round(raw["requests"] / seconds, 1),
        "images_per_s": round(raw["requests"] * upload.files / seconds, 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": errors,
        "error_detail": {k: raw[k] for k in raw if k.endswith(("_errors", "timeouts"))},
        "server_cpu_ms_per_request": round(1000 * cpu / max(1, raw["requests"]), 3),
        "server_cores": round(cpu / seconds, 2),
        "wrk_cores": round(wrk_cpu / seconds, 2),
        "other_cores": round(max(0.0, others) / seconds, 2),  # anything else on the machine: noise
    }


def bench_server(
    name: str, uploads: list[Upload], plan: Plan, env: dict[str, str], log_dir: Path
) -> dict[str, Any]:
    """Start a server (several times for the start-up figure), load it with each upload."""
    starts = []
    for _ in range(plan.starts - 1 if name in ("service", "ceiling") else 0):
        with serve(name, env, log_dir) as server:
            starts.append(server.start_s)
    result: dict[str, Any] = {"target": SERVERS[name], "runs": {}}
    with serve(name, env, log_dir) as server:
        starts.append(server.start_s)
        duration = plan.tutorial_duration_s if name == "tutorial" else plan.duration_s
        for upload in uploads:
            check_answer(server, upload)
            connections = BATCH_CONNECTIONS if upload.files > 1 else CONNECTIONS
            if plan.warmup_s:
                run_wrk(server, upload, plan.warmup_s, connections)
            run = run_wrk(server, upload, duration, connections)
            result["runs"][upload.name] = run
            print(
                f"  {name:9} {upload.name:6} {run['requests_per_s']:9.1f} req/s  p50 {run['p50_ms']:7.2f} ms"
                f"  p99 {run['p99_ms']:7.2f} ms  errors {run['errors']}  other cores {run['other_cores']}",
                flush=True,
            )
        memory = proc_status(server.process.pid)
    result["start_s"] = [round(s, 3) for s in starts]
    result["start_median_s"] = round(statistics.median(starts), 3)
    result["rss_mb"] = round(memory["VmRSS"] / 1024, 1)
    result["peak_rss_mb"] = round(memory["VmHWM"] / 1024, 1)
    return result


# ---- in-process LiteRT -----------------------------------------------------------------------


def litert_timing(model_dir: Path, seconds: float, rounds: int = 5) -> dict[str, Any]:
    """Seconds per image of Classifier.predict in this process, one thread, at batch 1 and 64.

    Batch 1 and 64 alternate in `rounds` windows; the median window is the figure, so a burst
    of noise from elsewhere on the machine moves it less.
    """
    classifier = load_classifier(model_dir)
    batch = prepare_batch(test_images(BATCH))
    windows: dict[int, list[float]] = {1: [], BATCH: []}
    for size in windows:
        classifier.predict(batch[:size])  # allocates this size's interpreter
    for _ in range(rounds):
        for size, timings in windows.items():
            inputs = [batch[i : i + size] for i in range(0, BATCH, size)]
            images = 0
            started = time.perf_counter()
            while time.perf_counter() - started < seconds / rounds:
                for chunk in inputs:
                    classifier.predict(chunk)
                images += BATCH
            timings.append((time.perf_counter() - started) / images)
    result = {}
    for size, timings in windows.items():
        per_image = statistics.median(timings)
        result[f"batch_{size}"] = {
            "seconds_per_image": per_image,
            "ms_per_image": round(per_image * 1000, 4),
            "images_per_s": round(1 / per_image, 1),
            "window_ms_per_image": [round(t * 1000, 4) for t in timings],
        }
        print(f"  LiteRT in-process batch {size:2}: {per_image * 1000:.3f} ms/image", flush=True)
    return result


# ---- figures ---------------------------------------------------------------------------------


def ratios_and_goals(
    servers: dict[str, Any], litert: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    service, ceiling, tutorial = (servers.get(n, {}).get("runs", {}) for n in SERVERS)
    model_s = litert["batch_1"]["seconds_per_image"]
    ratios: dict[str, Any] = {"model_seconds_per_image_batch_1": model_s}
    values: dict[str, float] = {}
    for kind in ("png", "jpeg"):
        if kind in service and kind in ceiling:
            ideal = 1 / (1 / ceiling[kind]["requests_per_s"] + model_s)
            ratios[f"ideal_{kind}_requests_per_s"] = round(ideal, 1)
            values[f"ideal_{kind}"] = service[kind]["requests_per_s"] / ideal
            ratios[f"service_vs_ideal_{kind}"] = round(values[f"ideal_{kind}"], 3)
            ratios[f"service_vs_ceiling_{kind}"] = round(
                service[kind]["requests_per_s"] / ceiling[kind]["requests_per_s"], 3
            )
            # Machine capacity: with a worker per core, CPU time per request is what bounds throughput.
            ratios[f"service_cpu_vs_ceiling_cpu_plus_model_{kind}"] = round(
                service[kind]["server_cpu_ms_per_request"]
                / (ceiling[kind]["server_cpu_ms_per_request"] + 1000 * model_s),
                3,
            )
        if kind in service and kind in tutorial:
            values[f"tutorial_{kind}"] = service[kind]["requests_per_s"] / tutorial[kind]["requests_per_s"]
            ratios[f"service_vs_tutorial_{kind}"] = round(values[f"tutorial_{kind}"], 1)
            if kind in ceiling:
                ratios[f"ceiling_vs_tutorial_{kind}"] = round(
                    ceiling[kind]["requests_per_s"] / tutorial[kind]["requests_per_s"], 1
                )
    if "service" in servers:
        values["rss"] = servers["service"]["peak_rss_mb"]
        values["start"] = servers["service"]["start_median_s"]
        if "ceiling" in servers:  # what the service adds to a bare FastAPI app's start on this machine
            ratios["start_service_minus_ceiling_s"] = round(
                values["start"] - servers["ceiling"]["start_median_s"], 3
            )
        values["errors"] = sum(run["errors"] for run in service.values())
    if "batch" in service:
        values["batch"] = service["batch"]["images_per_s"] / litert[f"batch_{BATCH}"]["images_per_s"]
        ratios["batch_vs_litert_batch_64"] = round(values["batch"], 3)
        ratios["batch_server_cpu_ms_per_image"] = round(
            service["batch"]["server_cpu_ms_per_request"] / BATCH, 3
        )
    goals = []
    for key, (description, target) in GOALS.items():
        value = values.get(key)
        passed = None if value is None else (value <= target if key in AT_MOST else value >= target)
        goals.append(
            {"goal": description, "value": None if value is None else round(value, 3), "pass": passed}
        )
    return ratios, goals


def print_summary(report: dict[str, Any]) -> None:
    print(
        "\nserver    upload     req/s   img/s   p50 ms   p99 ms  errors  cpu ms/req  peak RSS MB  start s"
        "  other cores"
    )
    for name, server in report["servers"].items():
        for kind, run in server["runs"].items():
            print(
                f"{name:9} {kind:6} {run['requests_per_s']:9.1f} {run['images_per_s']:7.0f}"
                f" {run['p50_ms']:8.2f} {run['p99_ms']:8.2f} {run['errors']:7}"
                f" {run['server_cpu_ms_per_request']:11.3f}"
                f" {server['peak_rss_mb']:12.1f} {server['start_median_s']:8.3f} {run['other_cores']:12.2f}"
            )
    litert = report["litert"]
    print(
        f"LiteRT in-process: batch 1 {litert['batch_1']['ms_per_image']:.3f} ms/image, "
        f"batch {BATCH} {litert[f'batch_{BATCH}']['ms_per_image']:.3f} ms/image"
    )
    for key, value in report["ratios"].items():
        print(f"  {key}: {value}")
    print()
    disturbed = [
        f"{name} {kind}"
        for name, server in report["servers"].items()
        for kind, run in server["runs"].items()
        if run["other_cores"] > OTHER_CORES_WARNING
    ]
    if disturbed:
        print(f"WARNING: other processes used > {OTHER_CORES_WARNING} cores during: {', '.join(disturbed)}")
    for goal in report["goals"]:
        verdict = {True: "PASS", False: "FAIL", None: "n/a "}[goal["pass"]]
        print(f"{verdict}  {goal['goal']}  (measured {goal['value']})")


def machine() -> dict[str, Any]:
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    names = ("fastapi", "starlette", "uvicorn", "python-multipart", "pillow", "numpy", "ai-edge-litert")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "libraries": {n: package_version(n) for n in names},
        "load_average_at_start": os.getloadavg(),
    }


def model_summary(directory: Path) -> dict[str, Any]:
    metadata = json.loads((directory / "metadata.json").read_text())
    training = metadata.get("training", {})
    return {
        "directory": str(directory),
        "version": metadata.get("version"),
        "created": metadata.get("created"),
        "test_accuracy": metadata.get("metrics", {}).get("test", {}).get("accuracy"),
        "architecture": training.get("model"),
        "parameters": training.get("parameters"),
        "flip_tta": training.get("flip_tta"),
    }


def run(plan: Plan) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    env = {**os.environ, "MODEL_DIR": str(plan.model_dir.parent), "MODEL_VERSION": plan.model_dir.name}
    env |= {"PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.perf_counter()
    # As the Dockerfile does: the servers start from bytecode, whatever PYTHONDONTWRITEBYTECODE says.
    for package in ("app", "benchmarks"):
        compileall.compile_dir(REPO_ROOT / package, quiet=1)
    report: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.serving", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "model": model_summary(plan.model_dir),
        "load": {
            "tool": "wrk",
            "threads": WRK_THREADS,
            "connections": CONNECTIONS,
            "batch_connections": BATCH_CONNECTIONS,
            "duration_s": plan.duration_s,
            "tutorial_duration_s": plan.tutorial_duration_s,
            "warmup_s": plan.warmup_s,
            "uvicorn": "one worker, --no-access-log --log-level warning",
        },
    }
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as tmp:
        uploads = make_uploads(Path(tmp))
        report["uploads"] = {
            u.name: {"files": u.files, "bytes": u.body_file.stat().st_size} for u in uploads.values()
        }
        print("in-process LiteRT", flush=True)
        report["litert"] = litert_timing(plan.model_dir, plan.litert_s)
        report["servers"] = {}
        for name in plan.servers:
            kinds = ["png", "jpeg", "batch"] if name == "service" else ["png", "jpeg"]
            print(f"{name} ({SERVERS[name]})", flush=True)
            report["servers"][name] = bench_server(name, [uploads[k] for k in kinds], plan, env, Path(tmp))
    report["ratios"], report["goals"] = ratios_and_goals(report["servers"], report["litert"])
    report["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    return report


def parse_args(argv: list[str] | None = None) -> Plan:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="1-second runs of service and ceiling only")
    parser.add_argument("--duration", type=float, default=15, help="seconds per measured wrk run")
    parser.add_argument("--tutorial-duration", type=float, default=10, help="seconds per tutorial run")
    parser.add_argument("--model-dir", type=Path, help="a version directory; default: the service's choice")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS})")
    args = parser.parse_args(argv)
    settings = get_settings()
    model_dir = args.model_dir or resolve_version_dir(settings.model_dir, settings.model_version)
    if args.smoke:
        return Plan(1, 1, 0, 0.2, 1, ("service", "ceiling"), model_dir.resolve(), args.out)
    return Plan(args.duration, args.tutorial_duration, 2, 2, 3, tuple(SERVERS), model_dir.resolve(), args.out)


def main(argv: list[str] | None = None) -> int:
    plan = parse_args(argv)
    report = run(plan)
    print_summary(report)
    plan.out.parent.mkdir(parents=True, exist_ok=True)
    plan.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {plan.out} ({report['benchmark_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
