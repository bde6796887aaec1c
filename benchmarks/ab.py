"""A/B of server settings: `python -m app` under two or more environments, loaded in alternating runs.

    python -m benchmarks.ab --upload v2_fp32 GIL_SWITCH_INTERVAL=0.005 GIL_SWITCH_INTERVAL=0.00002

Each argument after the options is one variant: comma-separated NAME=VALUE settings for the service's
environment ("" is the defaults). Every variant runs as its own one-worker `python -m app`, all
started before the first run; each round loads each variant once with wrk, the order reversed every
other round, so a drift of the machine's speed spreads over all of them. Prints the median req/s,
p99 and CPU per request of every variant and its ratio to the first; writes a results file with
--out. Exit status 2 when a server does not start (as every benchmark here).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    COULD_NOT_RUN,
    EXIT_COULD_NOT_RUN,
    EXIT_PASS,
    Server,
    machine,
    run_wrk,
    serve_service,
    utc_now,
    write_results,
)
from benchmarks.uploads import make_uploads

WARMUP_S = 2


def parse_variant(text: str) -> dict[str, str]:
    """'A=1,B=2' -> {'A': '1', 'B': '2'}; '' -> {} (the defaults)."""
    variant = {}
    for part in filter(None, text.split(",")):
        name, equals, value = part.partition("=")
        if not equals or not name:
            raise argparse.ArgumentTypeError(f"not NAME=VALUE: {part!r}")
        variant[name] = value
    return variant


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "requests_per_s": statistics.median(r["requests_per_s"] for r in runs),
        "requests_per_s_runs": [r["requests_per_s"] for r in runs],
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "cpu_ms_per_request": statistics.median(r["server_cpu_ms_per_request"] for r in runs),
        "server_cores": statistics.median(r["server_cores"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", type=parse_variant, help="NAME=VALUE[,NAME=VALUE...] or ''")
    parser.add_argument(
        "--upload", default="png", choices=["png", "png_body", "jpeg", "batch", "v2_fp32", "v2_png"]
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5, help="seconds per wrk run")
    parser.add_argument("--out", type=Path, help="results JSON (default: none)")
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = [{"settings": variant, "runs": []} for variant in args.variants]
    try:
        with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
            upload = make_uploads(Path(tmp))[args.upload]
            servers: list[Server] = []
            for index, variant in enumerate(args.variants):
                env = {**os.environ, **variant}
                servers.append(stack.enter_context(serve_service(f"variant-{index}", env, Path(tmp))))
            for server in servers:
                run_wrk(server, upload, WARMUP_S)
            for round_number in range(args.rounds):
                order = range(len(servers)) if round_number % 2 == 0 else reversed(range(len(servers)))
                for index in order:
                    results[index]["runs"].append(run_wrk(servers[index], upload, args.duration))
    except COULD_NOT_RUN as error:
        print(f"could not run: {error}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    first = summary(results[0]["runs"])["requests_per_s"]
    for result in results:
        result |= summary(result["runs"])
        result["vs_first"] = round(result["requests_per_s"] / first, 3)
        name = result["settings"] or "defaults"
        print(
            f"{name}: {result['requests_per_s']:.1f} req/s (x{result['vs_first']}), "
            f"p99 {result['p99_ms']:.1f} ms, {result['cpu_ms_per_request']:.3f} CPU ms/request, "
            f"{result['server_cores']:.2f} cores, runs {result['requests_per_s_runs']}"
        )
    if args.out:
        report = {"command": " ".join(["python -m benchmarks.ab", *sys.argv[1:]]), "date": utc_now()}
        report |= {"machine": machine(), "upload": args.upload, "rounds": args.rounds, "variants": results}
        write_results(report, args.out)
    return EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())
