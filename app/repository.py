"""The model repository: every models/<name>/<version>/ loaded, verified, polled and swapped in.

One `ModelRepository` per worker process, built in the lifespan (app.state.models). It loads and
verifies every version at start, then polls the directory every MODEL_POLL_SECONDS on its own
loader thread, so no request waits while a model loads:

- a new version directory is loaded beside the versions already served and, once verified, is
  published; the highest loaded version is what an unnamed version means;
- a directory still being written (`cp -r` in progress, an export not yet renamed into place) is
  never served: a version is served only once metadata.json parses and every artifact it lists
  has its recorded sha256 and reproduces its reference outputs. Until the directory stops
  changing, a failure means "not complete yet", and it is tried again at the next poll;
- a version that fails while its directory is unchanged since the previous poll is refused: logged
  at ERROR, counted in `classifier_model_refusals_total`, listed by /model-info, and not tried
  again until its files change;
- a version whose directory disappears stops being served; requests already running on it hold a
  reference to it and finish normally.

Publishing swaps whole dictionaries (copy on write), so a request on the event loop always sees
a consistent set of versions without a lock. Versions are immutable: files changed in place in a
version that is already loaded are not reloaded (copy a new version number instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from app.metrics import MODEL_INFO, REFUSALS
from app.model import Classifier, load_classifier
from app.model_version import ModelLoadError, list_versions

logger = logging.getLogger("app.models")

# (relative path, size, mtime_ns) of every file: changes while a copy or an export is in progress.
Fingerprint = tuple[tuple[str, int, int], ...]
Key = tuple[str, int]


class ModelUnavailable(RuntimeError):
    """The model exists but no version of it is loaded (503)."""


class UnknownModel(LookupError):
    """No such model, or no such loaded version (404)."""


@dataclass(frozen=True)
class Refusal:
    """A version directory that failed verification, and the files it failed with."""

    name: str
    version: int
    error: str
    fingerprint: Fingerprint
    time: float


def fingerprint(directory: Path) -> Fingerprint:
    """Sizes and modification times of every file under a directory (empty if it vanished)."""
    entries: list[tuple[str, int, int]] = []
    with contextlib.suppress(OSError):
        for path in sorted(directory.rglob("*")):
            with contextlib.suppress(OSError):
                status = path.stat()
                entries.append((str(path.relative_to(directory)), status.st_size, status.st_mtime_ns))
    return tuple(entries)


class ModelRepository:
    """Loads, verifies, polls and swaps the model versions under one directory."""

    def __init__(
        self,
        root: Path,
        default_model: str,
        *,
        only: set[str] | None = None,
        pins: dict[str, int] | None = None,
        poll_seconds: float = 5.0,
    ) -> None:
        self.root = root
        self.default_model = default_model
        self.only = only  # serve only these models (MODEL_DIR names one)
        self.pins = pins or {}  # model -> the one version to serve (MODEL_VERSION)
        self.poll_seconds = poll_seconds
        self._models: dict[str, dict[int, Classifier]] = {}
        self._refused: dict[Key, Refusal] = {}
        self._pending: dict[Key, Fingerprint] = {}  # failed, but still changing at the last poll
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-loader")
        self._poller: asyncio.Task[None] | None = None

    # ---- reading (event loop) ---------------------------------------------------------------

    def get(self, name: str | None = None, version: int | None = None) -> Classifier:
        """A loaded version: the default model when name is None, the highest version when version is."""
        name = name or self.default_model
        versions = self._models.get(name)
        if versions is None:
            raise UnknownModel(f"model {name!r} is not served; models: {sorted(self._models)}")
        if version is None:
            if not versions:
                raise ModelUnavailable(f"no version of model {name!r} is loaded")
            return versions[max(versions)]
        classifier = versions.get(version)
        if classifier is None:
            raise UnknownModel(f"model {name!r} has no loaded version {version}; loaded: {sorted(versions)}")
        return classifier

    def models(self) -> dict[str, dict[int, Classifier]]:
        """Every loaded model's versions, by name then version number (a snapshot)."""
        return self._models

    def refusals(self) -> list[Refusal]:
        return sorted(self._refused.values(), key=lambda r: (r.name, r.version))

    def is_ready(self) -> bool:
        """Whether the default model has a version to serve."""
        return bool(self._models.get(self.default_model))

    # ---- loading (loader thread) ---------------------------------------------------------------

    def start(self) -> None:
        """Load and verify everything now; raises ModelLoadError if the default model has no good version."""
        found = self._scan_directories()
        if not any(name == self.default_model for name, _ in found):
            where = self.root / self.default_model
            if self.default_model in self.pins and list_versions(where):
                raise ModelLoadError(
                    f"pinned model version {self.pins[self.default_model]} not found under {where}; "
                    f"have {list_versions(where)}"
                )
            raise ModelLoadError(f"no model versions found under {where} (expected {where}/<int>/)")
        self._models = {name: {} for name, _ in found}
        self.poll(initial=True)
        if not self.is_ready():
            errors = "; ".join(r.error for r in self.refusals() if r.name == self.default_model)
            raise ModelLoadError(
                f"default model {self.default_model!r}: no version could be loaded: {errors}"
            )

    def _model_names(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.iterdir()):
            if (
                path.is_dir()
                and not path.name.startswith(".")
                and (self.only is None or path.name in self.only)
            ):
                yield path.name

    def _scan_directories(self) -> dict[Key, Path]:
        """Every <name>/<int>/ directory to serve (pins applied)."""
        found: dict[Key, Path] = {}
        for name in self._model_names():
            for version in list_versions(self.root / name):
                if name not in self.pins or self.pins[name] == version:
                    found[(name, version)] = self.root / name / str(version)
        return found

    def poll(self, initial: bool = False) -> None:
        """One look at the directory: load new versions, refuse corrupt ones, drop removed ones."""
        found = self._scan_directories()
        models = {name: dict(versions) for name, versions in self._models.items()}
        for name, versions in models.items():
            for version in [v for v in versions if (name, v) not in found]:
                del versions[version]
                MODEL_INFO.labels(name, str(version)).set(0)
                logger.info("model %s version %s removed: no longer served", name, version)
        for key in [k for k in self._refused if k not in found]:
            del self._refused[key]
        for key in [k for k in self._pending if k not in found]:
            del self._pending[key]
        new = [
            (key, directory)
            for key, directory in sorted(found.items())
            if key[1] not in models.get(key[0], {})
        ]
        for (name, version), classifier in self._load_all(new, initial):
            if classifier is not None:
                models.setdefault(name, {})[version] = classifier
                self._publish(models)  # at once: other versions may take a while to load
        names = {name for name, _ in found} | {self.default_model}
        self._publish({name: versions for name, versions in models.items() if name in names})

    def _load_all(
        self, new: list[tuple[Key, Path]], initial: bool
    ) -> Iterator[tuple[Key, Classifier | None]]:
        """Load new versions side by side, one thread per core (hashing and LiteRT release the GIL)."""
        if len(new) <= 1:
            yield from ((key, self._try_load(*key, directory, initial)) for key, directory in new)
            return
        with ThreadPoolExecutor(min(len(new), os.cpu_count() or 1), thread_name_prefix="load") as pool:
            loading = {pool.submit(self._try_load, *key, directory, initial): key for key, directory in new}
            for done in as_completed(loading):
                yield loading[done], done.result()

    def _publish(self, models: dict[str, dict[int, Classifier]]) -> None:
        """Swap in a fresh copy: readers keep whichever whole snapshot they already hold."""
        self._models = {name: dict(versions) for name, versions in models.items()}

    def _try_load(self, name: str, version: int, directory: Path, initial: bool) -> Classifier | None:
        key = (name, version)
        before = fingerprint(directory)
        refused = self._refused.get(key)
        if refused is not None and refused.fingerprint == before:
            return None  # refused already; its files have not changed since
        started = time.perf_counter()
        try:
            classifier = load_classifier(directory)
        except ModelLoadError as error:
            after = fingerprint(directory)
            settled = after == before and (initial or self._pending.get(key) == after)
            if not settled:  # still being written: try again at the next poll
                self._pending[key] = after
                logger.debug("model %s version %s is not complete yet: %s", name, version, error)
                return None
            self._pending.pop(key, None)
            self._refused[key] = Refusal(name, version, str(error), after, time.time())
            REFUSALS.labels(name, str(version)).inc()
            logger.error("model %s version %s refused: %s", name, version, error)
            return None
        self._pending.pop(key, None)
        self._refused.pop(key, None)
        MODEL_INFO.labels(name, str(version)).set(1)
        logger.info(
            "model %s version %s loaded from %s in %.0f ms",
            name,
            version,
            directory,
            (time.perf_counter() - started) * 1000,
        )
        return classifier

    # ---- polling (event loop) -----------------------------------------------------------------

    def start_polling(self) -> None:
        """Poll every poll_seconds from now on (nothing when 0)."""
        if self.poll_seconds > 0:
            self._poller = asyncio.get_running_loop().create_task(self._poll_forever())

    async def _poll_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await loop.run_in_executor(self._loader, self.poll)
            except Exception:  # a poll must never end polling
                logger.exception("polling the model repository %s failed", self.root)

    async def close(self) -> None:
        """Stop polling; let a load in progress finish on its thread."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        self._loader.shutdown(wait=False, cancel_futures=True)
