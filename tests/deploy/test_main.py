"""`python3 -m app`, the container's command: settings from the environment, metrics ready for workers."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

import app.__main__ as entrypoint


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """uvicorn.run recorded instead of called, in a clean environment restored afterwards."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(entrypoint.uvicorn, "run", lambda target, **options: calls.append({target: options}))
    for name in ("PORT", "HOST", "WORKERS", "GRACEFUL_SHUTDOWN_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    # Empty counts as unset; setting it through monkeypatch restores it after main() has set it.
    monkeypatch.setenv(entrypoint.MULTIPROC_ENV, "")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return calls


def test_defaults_are_port_8000_all_interfaces_and_a_worker_per_core(uvicorn_calls: list) -> None:
    entrypoint.main()
    (call,) = uvicorn_calls
    options = call["app.main:app"]
    assert (options["host"], options["port"]) == ("0.0.0.0", 8000)
    assert options["workers"] == entrypoint.default_workers() >= 1
    assert options["timeout_graceful_shutdown"] == 20


def test_environment_sets_port_host_workers_and_drain_time(
    uvicorn_calls: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {"PORT": "9001", "HOST": "127.0.0.1", "WORKERS": "1", "GRACEFUL_SHUTDOWN_TIMEOUT": "5"}
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    entrypoint.main()
    options = uvicorn_calls[0]["app.main:app"]
    assert (options["host"], options["port"], options["workers"]) == ("127.0.0.1", 9001, 1)
    assert options["timeout_graceful_shutdown"] == 5


def test_several_workers_get_a_fresh_metrics_directory(
    uvicorn_calls: list, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WORKERS", "3")
    entrypoint.main()
    directory = Path(entrypoint.os.environ[entrypoint.MULTIPROC_ENV])
    assert directory.parent == tmp_path and directory.is_dir() and not any(directory.iterdir())


def test_one_worker_keeps_metrics_in_process(uvicorn_calls: list, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKERS", "1")
    entrypoint.main()
    assert not entrypoint.os.environ[entrypoint.MULTIPROC_ENV]


def test_a_configured_metrics_directory_is_emptied_at_start(
    uvicorn_calls: list, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "counter_123.db").write_bytes(b"stale")
    monkeypatch.setenv(entrypoint.MULTIPROC_ENV, str(metrics))
    monkeypatch.setenv("WORKERS", "2")
    entrypoint.main()
    assert not list(metrics.glob("*.db"))
    assert entrypoint.os.environ[entrypoint.MULTIPROC_ENV] == str(metrics)
