"""The serving benchmarks' harness: servers, load, measurement from /proc, goals and exit codes, results.

The scenarios (`benchmarks.serving`, `benchmarks.peers`, `benchmarks.photo_accuracy`) say what to
start and what to compare; this module knows how: start a server and time it to ready, load it
with wrk, read the CPU time and memory of every process of the server from /proc, judge goals and
turn them into an exit status, write a dated results file.

Exit status of every benchmark: 0 when each goal it judged passed, 1 when one failed, 2 when it
could not run (a server did not start or answered wrongly, wrk missing, bad arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from app.config import get_settings
from app.model import resolve_version_dir
from benchmarks.uploads import Upload
from benchmarks.uvicorn_process import free_port, running_process

LUA_SCRIPT = Path(__file__).with_name("post_file.lua")
RESULTS_DIR = Path(__file__).with_name("results")
CONNECTIONS = 16
WRK_THREADS = 2
OTHER_CORES_WARNING = 0.1  # CPU used by anything else during a run above this: its figures are disturbed
MEMORY_SAMPLE_S = 0.5
EXIT_PASS, EXIT_GOAL_FAILED, EXIT_COULD_NOT_RUN = 0, 1, 2


class BenchmarkError(RuntimeError):
    """The benchmark could not measure: a server did not start, or answered wrongly."""


# What makes a benchmark exit with EXIT_COULD_NOT_RUN: a server that did not start (RuntimeError from
# running_process), answered wrongly (BenchmarkError), or wrk failing.
COULD_NOT_RUN = (RuntimeError, subprocess.CalledProcessError)


# ---- one-off requests --------------------------------------------------------------------------


def request(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    content_type: str = "",
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = ({"Content-Type": content_type} if content_type else {}) | dict(extra_headers)
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def post_upload(port: int, upload: Upload) -> tuple[int, bytes]:
    body = upload.body_file.read_bytes()
    return request(port, "POST", upload.path, body, upload.content_type, upload.headers)


# ---- a server's processes, from /proc ----------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """`pid` and every process descended from it that is alive now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending += children.get(current, [])
    return tree


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process tree, including children that it has already reaped."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{member}/stat").read_text().rpartition(")")[2].split()
            total += sum(int(field) for field in stat[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


def tree_memory_mb(pid: int) -> dict[str, float]:
    """Memory of the process tree in MB: RSS and peak RSS (VmHWM) summed over its processes, and PSS
    (each shared page divided among its sharers, so forked workers are not counted twice)."""
    kb = {"Rss": 0, "Pss": 0, "VmHWM": 0}
    processes = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            text = (
                Path(f"/proc/{member}/smaps_rollup").read_text() + Path(f"/proc/{member}/status").read_text()
            )
            for line in text.splitlines():
                key, _, value = line.partition(":")
                if key in kb:
                    kb[key] += int(value.split()[0])
            processes += 1
    return {
        "rss_mb": round(kb["Rss"] / 1024, 1),
        "pss_mb": round(kb["Pss"] / 1024, 1),
        "hwm_mb": round(kb["VmHWM"] / 1024, 1),
        "processes": processes,
    }


def busy_seconds() -> float:
    """CPU time the whole machine has spent busy (all CPUs, niced work included) since boot."""
    user, nice, system, _idle, _iowait, irq, softirq = map(int, Path("/proc/stat").read_text().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """User + system CPU time of this process's finished children (the wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class PeakMemory:
    """Samples a process tree's RSS and PSS in a thread while a run lasts; keeps the highest."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = tree_memory_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(MEMORY_SAMPLE_S):
            now = tree_memory_mb(self.pid)
            self.peak = {key: max(self.peak[key], now[key]) for key in now}

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# ---- servers -----------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    start_s: float  # process start to the first ready answer
    log: Path


@contextlib.contextmanager
def serve_command(
    name: str,
    command: Sequence[str],
    env: Mapping[str, str],
    log_dir: Path,
    ready_path: str = "/health",
    port: int | None = None,
    timeout_s: float = 120,
    cwd: Path | None = None,
) -> Iterator[Server]:
    """Start a server (`{port}` in the command is replaced), wait until ready, stop it afterwards."""
    port = port or free_port()
    log = log_dir / f"{name}-{port}.log"
    started = time.perf_counter()
    argv = [part.replace("{port}", str(port)) for part in command]
    extra = {"cwd": cwd} if cwd else {}
    with running_process(
        argv, port, log, env, ready_path, timeout_s=timeout_s, poll_s=0.005, **extra
    ) as process:
        yield Server(name, process, port, time.perf_counter() - started, log)


@contextlib.contextmanager
def serve_app(
    name: str, target: str, env: Mapping[str, str], log_dir: Path, timeout_s: float = 120
) -> Iterator[Server]:
    """One one-worker uvicorn process serving `target` ("module:app"), ready at /health 200."""
    command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", "{port}"]
    command += ["--no-access-log", "--log-level", "warning"]
    with serve_command(name, command, env, log_dir, timeout_s=timeout_s) as server:
        yield server


def serve_service(
    name: str, env: Mapping[str, str], log_dir: Path, workers: int = 1
) -> contextlib.AbstractContextManager[Server]:
    """`python -m app` (the container's command) on a free loopback port, with WORKERS processes."""
    port = free_port()
    service_env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "WORKERS": str(workers)}
    return serve_command(name, [sys.executable, "-m", "app"], service_env, log_dir, port=port)


# ---- load --------------------------------------------------------------------------------------


def run_wrk(
    server: Server, upload: Upload, duration_s: float, connections: int = CONNECTIONS
) -> dict[str, Any]:
    """Load one server with wrk; req/s, latency percentiles, errors, the server's CPU and memory."""
    threads = min(WRK_THREADS, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s"]
    command += ["--timeout", "30s", "-s", str(LUA_SCRIPT), f"http://127.0.0.1:{server.port}{upload.path}"]
    env = {**os.environ, "BODY_FILE": str(upload.body_file), "CONTENT_TYPE": upload.content_type}
    env["EXTRA_HEADERS"] = "\n".join(f"{name}: {value}" for name, value in upload.headers)
    pid = server.process.pid
    with PeakMemory(pid) as memory:
        cpu_before, busy_before, wrk_before = tree_cpu_seconds(pid), busy_seconds(), children_cpu()
        output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
        cpu = tree_cpu_seconds(pid) - cpu_before
        wrk_cpu = children_cpu() - wrk_before
        others = busy_seconds() - busy_before - cpu - wrk_cpu
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    raw = json.loads(line.removeprefix("WRK_JSON "))
    seconds = raw["duration_us"] / 1e6
    errors = sum(
        raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "status_errors")
    )
    requests = max(1, raw["requests"])
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
        "server_cpu_ms_per_request": round(1000 * cpu / requests, 3),
        "server_cores": round(cpu / seconds, 2),
        "server_processes": memory.peak["processes"],
        "server_peak_rss_mb": memory.peak["rss_mb"],
        "server_peak_pss_mb": memory.peak["pss_mb"],
        "server_hwm_mb": memory.peak["hwm_mb"],  # each process's own peak since it started, summed
        "wrk_cores": round(wrk_cpu / seconds, 2),
        "other_cores": round(max(0.0, others) / seconds, 2),  # anything else on the machine: noise
    }


def disturbed_runs(runs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Names of the runs during which something else on the machine used a noticeable share of it."""
    return [name for name, run in runs.items() if run["other_cores"] > OTHER_CORES_WARNING]


# ---- goals -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """A figure's target. `check` is the target `--check` judges it at, None when it does not:
    --check keeps to what holds on any machine (a ratio within one run, RSS, errors)."""

    key: str
    description: str
    target: float
    at_most: bool = False
    check: float | None = None


def add_run_arguments(parser: argparse.ArgumentParser, kind: str, writes_nothing: str) -> None:
    """--model-dir and --out, as every benchmark takes them."""
    parser.add_argument("--model-dir", type=Path, help="a version directory; default: the service's choice")
    parser.add_argument(
        "--out",
        type=Path,
        help=f"results JSON (default: a new dated file in benchmarks/results/{kind}/; "
        f"{writes_nothing} write none unless given)",
    )


def chosen_model_dir(model_dir: Path | None) -> Path:
    """The version directory to serve: the one given, else the one the service would choose."""
    settings = get_settings()
    return (model_dir or resolve_version_dir(settings.model_dir, settings.model_version)).resolve()


def add_goal_arguments(
    parser: argparse.ArgumentParser,
    goals: Sequence[Goal],
    check_help: str = "short run that judges only the goals stable on any machine; exit 1 when one fails",
) -> None:
    parser.add_argument("--check", action="store_true", help=check_help)
    parser.add_argument(
        "--goal",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="replace a goal's target (and its --check target) for this run; keys: "
        + ", ".join(goal.key for goal in goals),
    )


def with_overrides(goals: Sequence[Goal], overrides: Sequence[str]) -> list[Goal]:
    """The goals with `--goal KEY=VALUE` targets applied; an unknown key is an error."""
    by_key = {goal.key: goal for goal in goals}
    for override in overrides:
        key, _, value = override.partition("=")
        if key not in by_key or not value:
            raise SystemExit(f"--goal {override!r}: expected KEY=VALUE with KEY one of {', '.join(by_key)}")
        goal = by_key[key]
        by_key[key] = replace(goal, target=float(value), check=None if goal.check is None else float(value))
    return list(by_key.values())


def judge(goals: Sequence[Goal], values: Mapping[str, float], check: bool) -> list[dict[str, Any]]:
    """A verdict per goal: pass True/False, or None when not measured or not judged in this mode."""
    verdicts = []
    for goal in goals:
        value = values.get(goal.key)
        target = goal.check if check else goal.target
        if value is None or target is None:
            passed = None
        else:
            passed = value <= target if goal.at_most else value >= target
        verdicts.append(
            {
                "key": goal.key,
                "goal": goal.description,
                "target": target,
                "at_most": goal.at_most,
                "value": None if value is None else round(value, 3),
                "pass": passed,
            }
        )
    return verdicts


def print_verdicts(verdicts: Sequence[Mapping[str, Any]]) -> None:
    for verdict in verdicts:
        word = {True: "PASS", False: "FAIL", None: "n/a "}[verdict["pass"]]
        target = (
            ""
            if verdict["target"] is None
            else f"; judged at {'<=' if verdict['at_most'] else '>='} {verdict['target']}"
        )
        print(f"{word}  {verdict['goal']}  (measured {verdict['value']}{target})")


def exit_status(verdicts: Sequence[Mapping[str, Any]]) -> int:
    return EXIT_GOAL_FAILED if any(v["pass"] is False for v in verdicts) else EXIT_PASS


# ---- results -----------------------------------------------------------------------------------


def dated_results_path(kind: str) -> Path:
    """benchmarks/results/<kind>/<UTC time>.json: a run never overwrites one quoted before it."""
    return RESULTS_DIR / kind / time.strftime("%Y-%m-%dT%H-%M-%SZ.json", time.gmtime())


def write_results(report: Mapping[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")


def library_versions(names: Sequence[str]) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = package_version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def machine(libraries: Sequence[str] = ()) -> dict[str, Any]:
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "libraries": library_versions(libraries),
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


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
