"""Serving benchmark: the service against its baselines, side by side in one run.

    .venv/bin/python -m benchmarks.serving          # ~3 min; writes benchmarks/results/serving/<time>.json
    .venv/bin/python -m benchmarks.serving --check  # ~1 min: goals that hold on any machine; 1 if one fails
    .venv/bin/python -m benchmarks.serving --smoke  # seconds: 1-second runs, service and ceiling only

Servers, each its own one-worker uvicorn process started the same way, loaded by `wrk`
(2 threads, 16 connections) posting one multipart upload over and over:
- service:  `app.main:app`, the real thing;
- ceiling:  `benchmarks.ceiling:app`, FastAPI upload parsing + our decoding, a constant answer
            (also loaded with the PNG as a raw body, no multipart: what form parsing costs);
- tutorial: `benchmarks.tutorial:app`, Keras `model.predict` per request on our own model.
Uploads: a 28x28 PNG test image, and a ~500 px shop-photo JPEG made from one (dark garment on
a white background, tinted). Beside them: in-process LiteRT time per image at batch 1 and 64,
and /predict/batch with 64 PNGs per request. Ratios are taken within the run, so they hold on
any machine; the absolute figures are this machine's. The peer frameworks are `benchmarks.peers`.

Exit status: 0 when every goal judged passed, 1 when one failed, 2 when the benchmark could not run.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.config import REPO_ROOT
from app.model import load_classifier
from app.preprocessing import prepare_batch
from benchmarks.harness import (
    CONNECTIONS,
    COULD_NOT_RUN,
    EXIT_COULD_NOT_RUN,
    WRK_THREADS,
    BenchmarkError,
    Goal,
    Server,
    add_goal_arguments,
    add_run_arguments,
    chosen_model_dir,
    dated_results_path,
    disturbed_runs,
    exit_status,
    judge,
    machine,
    model_summary,
    post_upload,
    print_verdicts,
    run_wrk,
    serve_app,
    tree_memory_mb,
    utc_now,
    with_overrides,
    write_results,
)
from benchmarks.uploads import BATCH, Upload, make_uploads, test_images

SERVERS = {
    "service": "app.main:app",
    "ceiling": "benchmarks.ceiling:app",
    "tutorial": "benchmarks.tutorial:app",
}
BATCH_CONNECTIONS = 4  # each request carries 64 images; 4 in flight keep one worker busy
START_TIMEOUT_S = 120  # the tutorial server imports TensorFlow
LIBRARIES = ("fastapi", "starlette", "uvicorn", "python-multipart", "pillow", "numpy", "ai-edge-litert")

# The goals (issues #4 and #19). `check` is what --check judges: the firm figures at their own
# targets; the ideal ratios, which miss 0.85 in some full runs on a noisy 2-vCPU VM (0.82 at worst),
# at a regression fence of 0.7; the batch ratio, from a few 64-image requests in a --check run's
# 3 s (0.78 in one CI run), at 0.65; nothing absolute in seconds.
GOALS = (
    Goal("ideal_png", "/predict PNG >= 0.85 x ideal", 0.85, check=0.7),
    Goal("ideal_jpeg", "/predict JPEG >= 0.85 x ideal", 0.85, check=0.7),
    # The raw-body ceiling is ~1.3 x the multipart one, the service only ~1.02 x faster with a raw body
    # (its own per-request work dominates): 0.69-0.76 in the runs of 2026-11-30, fenced at 0.5.
    Goal("ideal_png_body", "/predict PNG as the raw body >= 0.85 x ideal", 0.85, check=0.5),
    # Issue #16: the v2 door, binary FP32 tensor and binary PNG bytes, against the same ceiling path
    # (FP32 0.59-0.66, PNG 0.68-1.05 in the runs of 2026-11-30; not met, fenced at 0.4).
    Goal("ideal_v2_fp32", "v2 infer binary FP32 >= 0.85 x ideal", 0.85, check=0.4),
    Goal("ideal_v2_png", "v2 infer PNG bytes >= 0.85 x ideal", 0.85, check=0.4),
    # The issue measured the tutorial with the 28x28 PNG. For the shop photo, decoding alone keeps
    # even the no-model ceiling near 15x the tutorial: ratios has that figure, not a goal.
    Goal("tutorial_png", "/predict PNG >= 30 x tutorial", 30.0, check=30.0),
    Goal("rss", "worker peak RSS <= 150 MB", 150.0, at_most=True, check=150.0),
    # Issue #19 retired the absolute 1 s: the framework's imports alone take 0.55-0.87 s here.
    Goal("start", "start to /health 200 <= bare FastAPI (ceiling) start + 0.15 s", 0.15, at_most=True),
    Goal("batch", "/predict/batch images/s >= 0.8 x LiteRT batch 64", 0.8, check=0.65),
    Goal("errors", "zero errors (non-2xx + socket errors)", 0.0, at_most=True, check=0.0),
)
V2_KINDS = ("v2_fp32", "v2_png")
SMOKE_GOALS = {"rss", "errors"}  # what 1-second runs can tell


@dataclass
class Plan:
    mode: str  # "full", "check" or "smoke"
    duration_s: float
    tutorial_duration_s: float
    warmup_s: float
    litert_s: float
    starts: int
    servers: tuple[str, ...]
    model_dir: Path
    out: Path | None
    goals: list[Goal]


# ---- servers ---------------------------------------------------------------------------------


def check_answer(server: Server, upload: Upload) -> None:
    """One request before the load: it must succeed and look like a prediction."""
    status, body = post_upload(server.port, upload)
    if status != 200:
        raise BenchmarkError(f"{server.name} {upload.path} answered {status}: {body[:300]!r}")
    answer = json.loads(body)
    if upload.files > 1:
        results = answer["results"]
        if len(results) != upload.files or any(r["status_code"] != 200 for r in results):
            raise BenchmarkError(f"{server.name} batch answer is incomplete: {body[:300]!r}")
    elif upload.name.startswith("v2_"):
        if [o["name"] for o in answer.get("outputs", [])][:1] != ["probabilities"]:
            raise BenchmarkError(f"{server.name} answered no v2 outputs: {body[:300]!r}")
    elif "class_id" not in answer:
        raise BenchmarkError(f"{server.name} answered no class_id: {body[:300]!r}")


def bench_server(
    name: str, uploads: list[Upload], plan: Plan, env: dict[str, str], log_dir: Path
) -> dict[str, Any]:
    """Start a server (several times for the start-up figure), load it with each upload."""
    starts = []
    for _ in range(plan.starts - 1 if name in ("service", "ceiling") else 0):
        with serve_app(name, SERVERS[name], env, log_dir, START_TIMEOUT_S) as server:
            starts.append(server.start_s)
    result: dict[str, Any] = {"target": SERVERS[name], "runs": {}}
    with serve_app(name, SERVERS[name], env, log_dir, START_TIMEOUT_S) as server:
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
                f"  {name:9} {upload.name:8} {run['requests_per_s']:9.1f} req/s  p50 {run['p50_ms']:7.2f} ms"
                f"  p99 {run['p99_ms']:7.2f} ms  errors {run['errors']}  other cores {run['other_cores']}",
                flush=True,
            )
        memory = tree_memory_mb(server.process.pid)
    result["start_s"] = [round(s, 3) for s in starts]
    result["start_median_s"] = round(statistics.median(starts), 3)
    result["rss_mb"] = memory["rss_mb"]
    result["peak_rss_mb"] = memory["hwm_mb"]  # one process: the worker's VmHWM
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


def ratios_and_values(
    servers: dict[str, Any], litert: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, float]]:
    """The run's ratios (reported) and the values its goals are judged on."""
    # A run that completed no request (possible in a 1-second smoke run) gives no ratio.
    service, ceiling, tutorial = (
        {kind: run for kind, run in servers.get(n, {}).get("runs", {}).items() if run["requests"]}
        for n in SERVERS
    )
    model_s = litert["batch_1"]["seconds_per_image"]
    ratios: dict[str, Any] = {"model_seconds_per_image_batch_1": model_s}
    values: dict[str, float] = {}
    for kind in ("png", "jpeg", "v2_fp32", "v2_png"):
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
    if "png_body" in service and "png_raw" in ceiling:  # the raw-body door against the raw-body ceiling
        ideal = 1 / (1 / ceiling["png_raw"]["requests_per_s"] + model_s)
        values["ideal_png_body"] = service["png_body"]["requests_per_s"] / ideal
        ratios["service_vs_ideal_png_body"] = round(values["ideal_png_body"], 3)
        if "png" in service:
            ratios["service_raw_body_vs_multipart_png"] = round(
                service["png_body"]["requests_per_s"] / service["png"]["requests_per_s"], 3
            )
    if "png" in ceiling and "png_raw" in ceiling:  # what multipart parsing and UploadFile cost FastAPI
        ratios["ceiling_raw_body_vs_multipart_png"] = round(
            ceiling["png_raw"]["requests_per_s"] / ceiling["png"]["requests_per_s"], 3
        )
        ratios["ceiling_multipart_cpu_ms_per_request"] = round(
            ceiling["png"]["server_cpu_ms_per_request"] - ceiling["png_raw"]["server_cpu_ms_per_request"], 3
        )
    if "service" in servers:
        values["rss"] = servers["service"]["peak_rss_mb"]
        if "ceiling" in servers:  # what the service adds to a bare FastAPI app's start on this machine
            values["start"] = servers["service"]["start_median_s"] - servers["ceiling"]["start_median_s"]
            ratios["start_service_minus_ceiling_s"] = round(values["start"], 3)
        values["errors"] = sum(run["errors"] for run in service.values())
    if "batch" in service:
        values["batch"] = service["batch"]["images_per_s"] / litert[f"batch_{BATCH}"]["images_per_s"]
        ratios["batch_vs_litert_batch_64"] = round(values["batch"], 3)
        ratios["batch_server_cpu_ms_per_image"] = round(
            service["batch"]["server_cpu_ms_per_request"] / BATCH, 3
        )
    return ratios, values


def print_summary(report: dict[str, Any]) -> None:
    print(
        "\nserver    upload     req/s   img/s   p50 ms   p99 ms  errors  cpu ms/req  peak RSS MB  start s"
        "  other cores"
    )
    for name, server in report["servers"].items():
        for kind, run in server["runs"].items():
            print(
                f"{name:9} {kind:8} {run['requests_per_s']:9.1f} {run['images_per_s']:7.0f}"
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
        for kind in disturbed_runs(server["runs"])
    ]
    if disturbed:
        print(f"WARNING: other processes used > 0.1 cores during: {', '.join(disturbed)}")
    print(f"goals judged in {report['mode']} mode:")
    print_verdicts(report["goals"])


def run(plan: Plan) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise BenchmarkError("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    env = {**os.environ, "MODEL_DIR": str(plan.model_dir.parent), "MODEL_VERSION": plan.model_dir.name}
    env |= {"PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.perf_counter()
    # As the Dockerfile does: the servers start from bytecode, whatever PYTHONDONTWRITEBYTECODE says.
    for package in ("app", "benchmarks"):
        compileall.compile_dir(REPO_ROOT / package, quiet=1)
    report: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.serving", *sys.argv[1:]]),
        "date": utc_now(),
        "mode": plan.mode,
        "machine": machine(LIBRARIES),
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
            kinds = {
                "service": ["png", "png_body", "jpeg", "batch", *V2_KINDS],
                "ceiling": ["png", "png_raw", "jpeg", *V2_KINDS],
            }.get(name, ["png", "jpeg"])
            print(f"{name} ({SERVERS[name]})", flush=True)
            report["servers"][name] = bench_server(name, [uploads[k] for k in kinds], plan, env, Path(tmp))
    report["ratios"], values = ratios_and_values(report["servers"], report["litert"])
    goals = plan.goals
    if plan.mode == "smoke":
        goals = [g for g in goals if g.key in SMOKE_GOALS]
    report["goals"] = judge(goals, values, check=plan.mode != "full")
    report["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    return report


def parse_args(argv: list[str] | None = None) -> Plan:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="1-second runs of service and ceiling only")
    add_goal_arguments(parser, GOALS)
    parser.add_argument("--duration", type=float, help="seconds per measured wrk run (default 15; --check 3)")
    parser.add_argument("--tutorial-duration", type=float, default=10, help="seconds per tutorial run")
    add_run_arguments(parser, "serving", "--check and --smoke")
    args = parser.parse_args(argv)
    if args.smoke and args.check:
        parser.error("--smoke and --check are two different runs: choose one")
    model_dir = chosen_model_dir(args.model_dir)
    goals = with_overrides(GOALS, args.goal)
    if args.smoke:
        return Plan("smoke", 1, 1, 0, 0.2, 1, ("service", "ceiling"), model_dir, args.out, goals)
    if args.check:
        duration = args.duration or 3
        return Plan("check", duration, duration, 1, 1, 1, tuple(SERVERS), model_dir, args.out, goals)
    out = args.out or dated_results_path("serving")
    duration = args.duration or 15
    return Plan("full", duration, args.tutorial_duration, 2, 2, 3, tuple(SERVERS), model_dir, out, goals)


def main(argv: list[str] | None = None) -> int:
    plan = parse_args(argv)
    try:
        report = run(plan)
    except COULD_NOT_RUN as error:
        print(f"the benchmark could not run: {error}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    print_summary(report)
    if plan.out:
        write_results(report, plan.out)
    print(f"({report['benchmark_seconds']} s)")
    return exit_status(report["goals"])


if __name__ == "__main__":
    sys.exit(main())
