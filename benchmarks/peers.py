"""Peer benchmark: the service against the same job served by other frameworks, in alternating runs.

    .venv/bin/python -m benchmarks.peers                  # all peers, 3 rounds of 10 s; ~15 min
    .venv/bin/python -m benchmarks.peers --duration 5     # the same, shorter runs
    .venv/bin/python -m benchmarks.peers --quick          # CI: Flask and LitServe, 1 round of 2 s
    .venv/bin/python -m benchmarks.peers --peers kserve mlserver mlserver-batch

Each peer (benchmarks/peer_servers/) is the minimal idiomatic server of this job in its framework:
the same model.tflite run by LiteRT with one thread, the same preparation (`app.imaging` and
`app.preprocessing` imported from this checkout), the same 28x28 PNG, one worker; with the
framework's batching on and off where it has one. Each framework lives in its own virtual
environment, build/peers/<name>/, created on first use from the pinned
benchmarks/peer_servers/requirements/<name>.txt (recreated when that file changes).

The service, started as the container starts it (`python -m app`, WORKERS=1), runs for the whole
benchmark; each peer is started in turn, and the two are loaded
alternately (wrk, 2 threads x 16 connections, for `--duration` seconds, `--rounds` times each),
so every peer has paired runs of the service beside it. Reported per server: req/s, p50 and p99
(medians over the rounds), CPU seconds per 1,000 requests summed over every process of the server
(a peer with a second process uses a second core), peak RSS and PSS of those processes, their
number, and start to ready. A full run writes benchmarks/results/peers/<UTC time>.json and the
table in docs/performance.md (between the `peers-table` markers).

Exit status: 0 when every goal judged passed, 1 when one failed, 2 when the benchmark could not run
(a peer that could not be installed, started or checked is skipped, listed, and makes the status 2).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.config import REPO_ROOT
from app.imaging import encode_png
from benchmarks.harness import (
    COULD_NOT_RUN,
    EXIT_COULD_NOT_RUN,
    BenchmarkError,
    Goal,
    Server,
    add_run_arguments,
    chosen_model_dir,
    dated_results_path,
    exit_status,
    judge,
    machine,
    model_summary,
    post_upload,
    print_verdicts,
    run_wrk,
    serve_command,
    serve_service,
    utc_now,
    with_overrides,
    write_results,
)
from benchmarks.serving import BATCH_CONNECTIONS, LIBRARIES
from benchmarks.uploads import Upload, base64_text, make_uploads, test_images, write_upload
from benchmarks.uvicorn_process import free_port

PEER_DIR = Path(__file__).with_name("peer_servers")
REQUIREMENTS = PEER_DIR / "requirements"
ENVIRONMENTS = REPO_ROOT / "build" / "peers"
DOCS = REPO_ROOT / "docs" / "performance.md"
TABLE_START, TABLE_END = "<!-- peers-table:start -->", "<!-- peers-table:end -->"
MODEL_NAME = "fashion-mnist"
START_TIMEOUT_S = 300  # Ray starts a local cluster: 30-60 s here, minutes on a busy machine
EXPECTED_LABEL = b"Ankle boot"  # the first test image; every server must say so before it is loaded


@dataclass(frozen=True)
class Peer:
    """One framework's server, in one configuration."""

    name: str
    environment: str  # build/peers/<environment>, requirements/<environment>.txt
    framework: str  # the distribution whose version is reported
    how: str  # what the table says about it
    command: tuple[str, ...]  # {bin} = the environment's bin/, {port} = its HTTP port
    ready_path: str
    request: str  # which body: "multipart", "kserve-v1" or "oip-v2"
    env: dict[str, str] = field(default_factory=dict)


MLSERVER_ENV = {"MLSERVER_HOST": "127.0.0.1", "MLSERVER_HTTP_PORT": "{port}"}
LITSERVE = ("{bin}/python", "-m", "benchmarks.peer_servers.litserve_app", "{port}")
BENTOML = ("{bin}/bentoml", "serve", "benchmarks.peer_servers.bentoml_service:FashionMnist")
BENTOML += ("--host", "127.0.0.1", "--port", "{port}")
RAY = ("{bin}/python", "-m", "benchmarks.peer_servers.ray_app", "{port}")
PEERS = {
    peer.name: peer
    for peer in (
        Peer(
            "flask",
            "flask",
            "flask",
            "Flask + gunicorn, 1 sync worker, multipart",
            ("{bin}/gunicorn", "-w", "1", "-b", "127.0.0.1:{port}", "benchmarks.peer_servers.flask_app:app"),
            "/health",
            "multipart",
        ),
        Peer(
            "litserve",
            "litserve",
            "litserve",
            "LitServe, multipart, no batching",
            LITSERVE,
            "/health",
            "multipart",
        ),
        Peer(
            "litserve-batch",
            "litserve",
            "litserve",
            "LitServe, multipart, batching (16, 5 ms)",
            (*LITSERVE, "--batch"),
            "/health",
            "multipart",
        ),
        Peer(
            "kserve",
            "kserve",
            "kserve",
            "KServe ModelServer, V1 protocol, base64 JSON",
            ("{bin}/python", "-m", "benchmarks.peer_servers.kserve_model", "--http_port", "{port}")
            + ("--enable_grpc", "false"),
            f"/v1/models/{MODEL_NAME}",
            "kserve-v1",
        ),
        Peer(
            "mlserver",
            "mlserver",
            "mlserver",
            "MLServer custom runtime, OIP v2, base64 BYTES, no batching",
            ("{bin}/mlserver", "start", str(PEER_DIR / "mlserver_model")),
            f"/v2/models/{MODEL_NAME}/ready",
            "oip-v2",
            MLSERVER_ENV,
        ),
        Peer(
            "mlserver-batch",
            "mlserver",
            "mlserver",
            "MLServer custom runtime, OIP v2, base64 BYTES, adaptive batching (16, 5 ms)",
            ("{bin}/mlserver", "start", str(PEER_DIR / "mlserver_model_batch")),
            f"/v2/models/{MODEL_NAME}/ready",
            "oip-v2",
            MLSERVER_ENV,
        ),
        Peer(
            "bentoml",
            "bentoml",
            "bentoml",
            "BentoML, multipart, no batching",
            BENTOML,
            "/readyz",
            "multipart",
        ),
        Peer(
            "bentoml-batch",
            "bentoml",
            "bentoml",
            "BentoML, multipart, adaptive batching (16)",
            BENTOML,
            "/readyz",
            "multipart",
            {"PEER_BATCH": "1"},
        ),
        Peer(
            "ray", "ray", "ray", "Ray Serve, 1 replica, multipart, no batching", RAY, "/predict", "multipart"
        ),
        Peer(
            "ray-batch",
            "ray",
            "ray",
            "Ray Serve, 1 replica, multipart, @serve.batch (16, 5 ms)",
            (*RAY, "--batch"),
            "/predict",
            "multipart",
        ),
    )
}
QUICK_PEERS = ("flask", "litserve")  # cheap to install (~10-15 s each) and quick to start: what CI runs

GOALS = (
    Goal("throughput", "/predict PNG req/s >= 1.5 x the fastest peer (paired runs)", 1.5),
    Goal("p99", "/predict PNG p99 <= the best peer's p99", 1.0, at_most=True),
    Goal("cpu", "/predict CPU per request < every peer's (ratio to the most frugal)", 1.0, at_most=True),
    Goal("two_workers", "2 workers (python -m app, WORKERS=2) >= 1.8 x one worker", 1.8),
    Goal("rss", "service peak RSS <= 150 MB", 150.0, at_most=True, check=150.0),
    Goal("errors", "zero errors, service and peers (non-2xx + socket errors)", 0.0, at_most=True, check=0.0),
)


@dataclass
class Plan:
    peers: tuple[str, ...]
    duration_s: float
    rounds: int
    warmup_s: float
    quick: bool
    model_dir: Path
    out: Path | None
    docs: Path | None
    goals: list[Goal]


# ---- environments ----------------------------------------------------------------------------


def ensure_environment(name: str) -> Path:
    """build/peers/<name>, a virtual environment with exactly requirements/<name>.txt installed."""
    requirements = REQUIREMENTS / f"{name}.txt"
    directory = ENVIRONMENTS / name
    stamp = directory / "requirements.installed"
    if stamp.exists() and stamp.read_text() == requirements.read_text():
        return directory / "bin"
    print(
        f"  creating {directory.relative_to(REPO_ROOT)} from {requirements.relative_to(REPO_ROOT)}",
        flush=True,
    )
    started = time.perf_counter()
    shutil.rmtree(directory, ignore_errors=True)
    base_python = getattr(sys, "_base_executable", sys.executable)
    # No pip of its own (ensurepip takes seconds to a minute): this environment's pip installs into it.
    subprocess.run([base_python, "-m", "venv", "--without-pip", str(directory)], check=True)
    pip = [sys.executable, "-m", "pip", "--python", str(directory / "bin" / "python"), "install", "-q"]
    try:
        subprocess.run([*pip, "-r", str(requirements)], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as error:
        raise BenchmarkError(f"installing {requirements.name} failed:\n{error.stderr[-3000:]}") from error
    stamp.write_text(requirements.read_text())
    print(f"  ... {time.perf_counter() - started:.0f} s", flush=True)
    return directory / "bin"


def pinned_version(environment: str, distribution: str) -> str | None:
    pattern = re.compile(rf"^{re.escape(distribution)}==(\S+)", re.IGNORECASE | re.MULTILINE)
    found = pattern.search((REQUIREMENTS / f"{environment}.txt").read_text())
    return found.group(1) if found else None


# ---- requests --------------------------------------------------------------------------------


def peer_uploads(directory: Path, png: bytes, multipart_upload: Upload) -> dict[str, Upload]:
    """The same PNG in each protocol's own way of carrying an image."""
    encoded = base64_text(png)
    kserve = {"instances": [{"image": {"b64": encoded}}]}
    oip = {
        "inputs": [
            {
                "name": "image",
                "shape": [1, 1],
                "datatype": "BYTES",
                "data": [encoded],
                "parameters": {"content_type": "base64"},
            }
        ]
    }
    return {
        "multipart": multipart_upload,
        "kserve-v1": write_upload(
            directory,
            "kserve-v1",
            f"/v1/models/{MODEL_NAME}:predict",
            json.dumps(kserve).encode(),
            "application/json",
        ),
        "oip-v2": write_upload(
            directory,
            "oip-v2",
            f"/v2/models/{MODEL_NAME}/infer",
            json.dumps(oip).encode(),
            "application/json",
        ),
    }


def check_answer(server: Server, upload: Upload) -> None:
    status, body = post_upload(server.port, upload)
    if status != 200 or EXPECTED_LABEL not in body:
        raise BenchmarkError(f"{server.name} answered {status}, not {EXPECTED_LABEL!r}: {body[:300]!r}")


# ---- runs ------------------------------------------------------------------------------------


def summarise(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the rounds; CPU pooled over all of them; the highest memory seen."""
    requests = sum(run["requests"] for run in runs)
    cpu_ms = sum(run["server_cpu_ms_per_request"] * run["requests"] for run in runs)
    return {
        "rounds": len(runs),
        "requests_per_s": round(statistics.median(run["requests_per_s"] for run in runs), 1),
        "requests_per_s_runs": [run["requests_per_s"] for run in runs],
        "p50_ms": round(statistics.median(run["p50_ms"] for run in runs), 2),
        "p99_ms": round(statistics.median(run["p99_ms"] for run in runs), 2),
        "cpu_s_per_1000": round(cpu_ms / max(1, requests), 3),
        "peak_rss_mb": max(run["server_peak_rss_mb"] for run in runs),
        "peak_pss_mb": max(run["server_peak_pss_mb"] for run in runs),
        "processes": max(run["server_processes"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
        "other_cores_max": max(run["other_cores"] for run in runs),
    }


def bench_peer(
    peer: Peer, service: Server, uploads: dict[str, Upload], plan: Plan, env: dict[str, str], log_dir: Path
) -> dict[str, Any]:
    """Start one peer, then load it and the service alternately, `plan.rounds` times each."""
    bin_dir = ensure_environment(peer.environment)
    port = free_port()
    command = [part.replace("{bin}", str(bin_dir)) for part in peer.command]  # serve_command fills {port}
    peer_env = env | {key: value.replace("{port}", str(port)) for key, value in peer.env.items()}
    if peer.environment == "mlserver":  # its gRPC and metrics servers want ports of their own
        peer_env |= {"MLSERVER_GRPC_PORT": str(free_port()), "MLSERVER_METRICS_PORT": str(free_port())}
    upload, ours = uploads[peer.request], uploads["multipart"]
    with serve_command(
        peer.name, command, peer_env, log_dir, peer.ready_path, port=port, timeout_s=START_TIMEOUT_S
    ) as server:
        check_answer(server, upload)
        if plan.warmup_s:
            run_wrk(server, upload, plan.warmup_s)
        peer_runs, service_runs = [], []
        for round_ in range(plan.rounds):
            order = [(service, ours, service_runs), (server, upload, peer_runs)]
            for target, body, runs in order if round_ % 2 == 0 else reversed(order):
                runs.append(run_wrk(target, body, plan.duration_s))
        result = {
            "framework": peer.framework,
            "version": pinned_version(peer.environment, peer.framework),
            "how": peer.how,
            "request": peer.request,
            "start_s": round(server.start_s, 3),
            **summarise(peer_runs),
            "service_in_pairs": summarise(service_runs),
            "runs": peer_runs,
            "service_runs": service_runs,
        }
    result["service_ratio"] = round(
        result["service_in_pairs"]["requests_per_s"] / result["requests_per_s"], 2
    )
    print(
        f"  {peer.name:15} {result['requests_per_s']:8.1f} req/s  p99 {result['p99_ms']:7.2f} ms"
        f"  cpu {result['cpu_s_per_1000']:6.3f} s/1000  rss {result['peak_rss_mb']:7.1f} MB"
        f"  start {result['start_s']:6.2f} s   service beside it"
        f" {result['service_in_pairs']['requests_per_s']:.1f} req/s (x{result['service_ratio']})",
        flush=True,
    )
    return result


def bench_two_workers(
    service: Server, upload: Upload, plan: Plan, env: dict[str, str], log_dir: Path
) -> dict[str, Any]:
    """`python -m app` with WORKERS=2 against the one-worker service, alternately (issue #19: >= 1.8 x)."""
    with serve_service("service-2-workers", env, log_dir, workers=2) as two:
        check_answer(two, upload)
        run_wrk(two, upload, plan.warmup_s or 1)
        one_runs, two_runs = [], []
        for round_ in range(plan.rounds):
            order = [(service, one_runs), (two, two_runs)]
            for target, runs in order if round_ % 2 == 0 else reversed(order):
                runs.append(run_wrk(target, upload, plan.duration_s))
        result = {"start_s": round(two.start_s, 3), **summarise(two_runs), "one_worker": summarise(one_runs)}
    result["ratio"] = round(result["requests_per_s"] / result["one_worker"]["requests_per_s"], 2)
    print(
        f"  2 workers       {result['requests_per_s']:8.1f} req/s against one worker's"
        f" {result['one_worker']['requests_per_s']:.1f}: x{result['ratio']}",
        flush=True,
    )
    return result


def goal_values(report: dict[str, Any]) -> dict[str, float]:
    service, peers = report["service"], report["peers"]
    values: dict[str, float] = {
        "rss": service["png"]["peak_rss_mb"],
        "errors": service["png"]["errors"] + sum(peer["errors"] for peer in peers.values()),
    }
    if "two_workers" in service:
        values["two_workers"] = service["two_workers"]["ratio"]
    if peers:
        values["throughput"] = min(peer["service_ratio"] for peer in peers.values())
        values["p99"] = service["png"]["p99_ms"] / min(peer["p99_ms"] for peer in peers.values())
        values["cpu"] = service["png"]["cpu_s_per_1000"] / min(
            peer["cpu_s_per_1000"] for peer in peers.values()
        )
    return values


def run(plan: Plan) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise BenchmarkError("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    started = time.perf_counter()
    for package in ("app", "benchmarks"):  # every server starts from bytecode, as the image does
        compileall.compile_dir(REPO_ROOT / package, quiet=1)
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env |= {
        "MODEL_DIR": str(plan.model_dir.parent),
        "MODEL_VERSION": plan.model_dir.name,
        "PEER_MODEL_FILE": str(plan.model_dir / "model.tflite"),
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
        # No usage reports from the frameworks (the machine may have no way out anyway).
        "RAY_USAGE_STATS_ENABLED": "0",
        "BENTOML_DO_NOT_TRACK": "True",
    }
    report: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.peers", *sys.argv[1:]]),
        "date": utc_now(),
        "mode": "quick" if plan.quick else "full",
        "machine": machine(LIBRARIES),
        "model": model_summary(plan.model_dir),
        "load": {
            "tool": "wrk",
            "threads": 2,
            "connections": 16,
            "duration_s": plan.duration_s,
            "rounds": plan.rounds,
            "warmup_s": plan.warmup_s,
            "alternation": "service and peer in turn, the order swapped every round",
        },
        "peers": {},
    }
    with tempfile.TemporaryDirectory(prefix="peers-bench-") as tmp:
        uploads = make_uploads(Path(tmp))
        png = encode_png(test_images(1)[0])
        requests = peer_uploads(Path(tmp), png, uploads["png"])
        print("service (python -m app, WORKERS=1: the container's command)", flush=True)
        with serve_service("service", env, Path(tmp)) as service:
            check_answer(service, uploads["png"])
            if plan.warmup_s:
                run_wrk(service, uploads["png"], plan.warmup_s)
            report["failed"] = {}
            for name in plan.peers:
                try:
                    report["peers"][name] = bench_peer(PEERS[name], service, requests, plan, env, Path(tmp))
                except COULD_NOT_RUN as error:  # the others still run; the exit status says so
                    report["failed"][name] = str(error)[-2000:]
                    print(f"  {name:15} could not run: {str(error).splitlines()[0]}", flush=True)
            service_runs = [run for peer in report["peers"].values() for run in peer["service_runs"]]
            if not service_runs:
                service_runs = [run_wrk(service, uploads["png"], plan.duration_s)]
            report["service"] = {"start_s": round(service.start_s, 3), "png": summarise(service_runs)}
            # Reported beside the PNG: the shop-photo JPEG and /predict/batch (64 PNGs, 4 connections).
            for kind, connections in (("jpeg", 16), ("batch", BATCH_CONNECTIONS)):
                report["service"][kind] = summarise(
                    [run_wrk(service, uploads[kind], plan.duration_s, connections)]
                )
                report["service"][kind]["images_per_request"] = uploads[kind].files
            if not plan.quick:
                report["service"]["two_workers"] = bench_two_workers(
                    service, uploads["png"], plan, env, Path(tmp)
                )
    verdicts = judge(plan.goals, goal_values(report), check=plan.quick)
    report["goals"] = verdicts
    report["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    return report


# ---- output ----------------------------------------------------------------------------------


def row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def figures(summary: dict[str, Any]) -> list[str]:
    """The columns every server shares: latency, CPU, memory."""
    memory = f"{summary['peak_rss_mb']:.0f} ({summary['peak_pss_mb']:.0f}), {summary['processes']}"
    return [
        f"{summary['p50_ms']:.1f}",
        f"{summary['p99_ms']:.1f}",
        f"{summary['cpu_s_per_1000']:.2f}",
        memory,
    ]


def table(report: dict[str, Any]) -> str:
    """The peer table in Markdown: the service first, then the peers, fastest first."""
    service, png = report["service"], report["service"]["png"]
    spread = f"{min(png['requests_per_s_runs']):.0f}-{max(png['requests_per_s_runs']):.0f}"
    lines = [
        row(
            [
                "server (one worker)",
                "req/s (median of the runs)",
                "p50 ms",
                "p99 ms",
                "CPU s per 1,000 req",
                "peak RSS MB (PSS), processes",
                "start to ready s",
                "the service in the paired runs",
            ]
        ),
        row(["---"] * 8),
        row(
            [
                "**this service** (`python -m app`, `/predict`, multipart 28x28 PNG)",
                f"**{png['requests_per_s']:.0f}** ({spread} over {png['rounds']} runs)",
                *figures(png),
                f"{service['start_s']:.2f}",
                "—",
            ]
        ),
    ]
    for name, peer in sorted(report["peers"].items(), key=lambda item: -item[1]["requests_per_s"]):
        paired = peer["service_in_pairs"]["requests_per_s"]
        lines.append(
            row(
                [
                    f"{peer['how']} (`{name}`, {peer['framework']} {peer['version']})",
                    f"{peer['requests_per_s']:.0f}",
                    *figures(peer),
                    f"{peer['start_s']:.2f}",
                    f"{paired:.0f} req/s: **{peer['service_ratio']:.2f} x**",
                ]
            )
        )
    for name, error in report["failed"].items():
        lines.append(row([f"{PEERS[name].how} (`{name}`)", "could not run: " + error.splitlines()[0][:120]]))
    jpeg, batch = service["jpeg"], service["batch"]
    images_per_s = batch["requests_per_s"] * batch["images_per_request"]
    lines += [
        "",
        f"Beside it, the service alone: the ~500 px shop-photo JPEG {jpeg['requests_per_s']:.1f} req/s "
        f"(p99 {jpeg['p99_ms']:.0f} ms, {jpeg['cpu_s_per_1000']:.1f} CPU s per 1,000); `/predict/batch` "
        f"with {batch['images_per_request']} PNGs {images_per_s:.0f} images/s (p99 {batch['p99_ms']:.0f} ms "
        "per request).",
    ]
    if "two_workers" in service:
        two = service["two_workers"]
        one = two["one_worker"]["requests_per_s"]
        lines[-1] += (
            f" With WORKERS=2 on the {report['machine']['cpus']} cores: {two['requests_per_s']:.0f} req/s "
            f"against {one:.0f} for one worker in alternating runs, {two['ratio']:.2f} x (p99 "
            f"{two['p99_ms']:.1f} ms, peak RSS {two['peak_rss_mb']:.0f} MB, {two['processes']} processes)."
        )
    return "\n".join(lines)


def write_docs_table(report: dict[str, Any], docs: Path) -> None:
    """Replace the table between the markers in docs/performance.md with this run's."""
    text = docs.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        raise BenchmarkError(f"{docs} has no {TABLE_START} ... {TABLE_END} block to fill")
    head, _, rest = text.partition(TABLE_START)
    _, _, tail = rest.partition(TABLE_END)
    block = (
        f"Run of {report['date'].replace('T', ' ').removesuffix('Z')} UTC, "
        f"`{report['command']}`, results in `{report['results_file']}`:\n\n{table(report)}\n"
    )
    docs.write_text(f"{head}{TABLE_START}\n{block}{TABLE_END}{tail}")
    print(f"wrote the table into {docs}")


def print_summary(report: dict[str, Any]) -> None:
    print()
    print(table(report))
    print()
    noisy = [name for name, peer in report["peers"].items() if peer["other_cores_max"] > 0.1]
    if noisy:
        print(f"WARNING: other processes used > 0.1 cores during the runs of: {', '.join(noisy)}")
    print(f"goals judged in {report['mode']} mode:")
    print_verdicts(report["goals"])


def parse_args(argv: list[str] | None = None) -> Plan:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--peers",
        nargs="+",
        choices=[*PEERS, "all"],
        help=f"which peers (default: all; --quick: {' '.join(QUICK_PEERS)})",
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s; judges only RSS and errors")
    parser.add_argument("--duration", type=float, help="seconds per wrk run (default 10; --quick 2)")
    parser.add_argument("--rounds", type=int, help="runs of each server (default 3; --quick 1)")
    add_run_arguments(parser, "peers", "--quick runs")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/performance.md alone")
    parser.add_argument(
        "--goal", action="append", default=[], metavar="KEY=VALUE", help="replace a goal's target"
    )
    args = parser.parse_args(argv)
    peers = args.peers or (QUICK_PEERS if args.quick else ["all"])
    full = not args.quick
    return Plan(
        peers=tuple(PEERS) if "all" in peers else tuple(peers),
        duration_s=args.duration or (10 if full else 2),
        rounds=args.rounds or (3 if full else 1),
        warmup_s=2 if full else 1,
        quick=args.quick,
        model_dir=chosen_model_dir(args.model_dir),
        out=args.out or (dated_results_path("peers") if full else None),
        docs=DOCS if full and not args.no_docs else None,
        goals=with_overrides(GOALS, args.goal),
    )


def main(argv: list[str] | None = None) -> int:
    plan = parse_args(argv)
    try:
        report = run(plan)
    except COULD_NOT_RUN as error:
        print(f"the benchmark could not run: {error}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    report["results_file"] = os.path.relpath(plan.out, REPO_ROOT) if plan.out else None
    print_summary(report)
    if plan.out:
        write_results(report, plan.out)
    if plan.docs:
        write_docs_table(report, plan.docs)
    print(f"({report['benchmark_seconds']} s)")
    if report["failed"]:
        print(f"could not run: {', '.join(report['failed'])} (see the results file)", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    return exit_status(report["goals"])


if __name__ == "__main__":
    sys.exit(main())
