"""`python3 -m app`, the container's command: settings from the environment, metrics ready for workers."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from uvicorn.config import Config

import app.__main__ as entrypoint


class Recorded:
    """uvicorn's Server or Multiprocess supervisor, recording its configuration instead of serving."""

    calls: list[Config] = []

    def __init__(self, config: Config, sockets: list | None = None) -> None:
        self.calls.append(config)
        self.started, self.processes = True, []

    def run(self) -> None:
        pass


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[Config]]:
    """The configurations uvicorn was started with (nothing served), in a clean environment."""
    Recorded.calls = []
    monkeypatch.setattr(entrypoint, "Server", Recorded)
    monkeypatch.setattr(entrypoint, "Multiprocess", Recorded)
    monkeypatch.setattr(Config, "bind_socket", lambda self: None)
    monkeypatch.setattr(entrypoint, "JsonStderr", lambda: type("Quiet", (), {"close": lambda self: None})())
    for name in ("PORT", "HOST", "WORKERS", "GRACEFUL_SHUTDOWN_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    # Empty counts as unset; setting it through monkeypatch restores it after main() has set it.
    monkeypatch.setenv(entrypoint.MULTIPROC_ENV, "")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    entrypoint.get_settings.cache_clear()  # settings are read once per process: read this test's
    yield Recorded.calls
    entrypoint.get_settings.cache_clear()


def test_defaults_are_port_8000_all_interfaces_and_a_worker_per_core(uvicorn_calls: list) -> None:
    entrypoint.main()
    (config,) = uvicorn_calls
    assert config.app == "app.main:app" and (config.host, config.port) == ("0.0.0.0", 8000)
    assert config.workers == entrypoint.default_workers() >= 1
    assert config.timeout_graceful_shutdown == 20


def test_environment_sets_port_host_workers_and_drain_time(
    uvicorn_calls: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {"PORT": "9001", "HOST": "127.0.0.1", "WORKERS": "1", "GRACEFUL_SHUTDOWN_TIMEOUT": "5"}
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    entrypoint.main()
    config = uvicorn_calls[0]
    assert (config.host, config.port, config.workers) == ("127.0.0.1", 9001, 1)
    assert config.timeout_graceful_shutdown == 5


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
