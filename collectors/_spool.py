"""A bounded on-disk queue of measurements that could not be delivered yet.

One SQLite file per reporter, ``<dir>/trial-<id>.<reporter>.spool``, one row per
measurement in the order recorded. The reporter appends when the service cannot be reached
and delivers from the head when it can again. While its reporter lives, the file is held
with an exclusive ``flock``; a file nobody holds was left by a reporter that ended before
the service came back, and :func:`flush_spools` (run by every new reporter of the trial and
by ``tuner report --flush``) delivers it.

The file is bounded by ``max_bytes`` of measurement text: when a new measurement does not
fit, the OLDEST are dropped to make room (counted, and logged). The newest are kept
because they decide a trial's final value under the default ``latest`` strategy and are
what early stopping compares.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from tuner.trial import Measurement

if TYPE_CHECKING:
    from tuner.backend import Backend

__all__ = [
    "DEFAULT_SPOOL_MAX_BYTES",
    "SPOOL_DIR_ENV",
    "SPOOL_MAX_BYTES_ENV",
    "Spool",
    "default_spool_dir",
    "default_spool_max_bytes",
    "flush_spools",
]

logger = logging.getLogger(__name__)

SPOOL_DIR_ENV = "TUNER_SPOOL_DIR"
"""Where spool files go; unset: ``.tuner-spool`` in the working directory."""
SPOOL_MAX_BYTES_ENV = "TUNER_SPOOL_MAX_BYTES"
"""Most bytes of measurements one spool file holds."""
DEFAULT_SPOOL_MAX_BYTES = 64 * 1024 * 1024
_DEFAULT_DIR = ".tuner-spool"
_SUFFIX = ".spool"
_BUSY_TIMEOUT_S = 30.0
_REFUSALS = (InvalidArgumentError, NotFoundError, FailedPreconditionError, AlreadyExistsError)


def default_spool_dir() -> Path:
    """``$TUNER_SPOOL_DIR``, or ``.tuner-spool`` under the working directory."""
    return Path(os.environ.get(SPOOL_DIR_ENV) or _DEFAULT_DIR)


def default_spool_max_bytes() -> int:
    """``$TUNER_SPOOL_MAX_BYTES`` when it is a positive integer, else 64 MiB."""
    raw = os.environ.get(SPOOL_MAX_BYTES_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value > 0:
            return value
        logger.warning(
            "%s=%r is not a positive integer; using the default", SPOOL_MAX_BYTES_ENV, raw
        )
    return DEFAULT_SPOOL_MAX_BYTES


def spool_path(directory: Path, trial_id: int, reporter_id: str) -> Path:
    """The spool file of one reporter of one trial."""
    return directory / f"trial-{trial_id}.{reporter_id}{_SUFFIX}"


def _encode(measurement: Measurement) -> str:
    # json writes NaN and infinities as NaN/Infinity and reads them back.
    return json.dumps(
        {
            "step": measurement.step,
            "time": measurement.time,
            "metrics": dict(measurement.metrics),
            "report_id": measurement.report_id,
        }
    )


def _decode(text: str) -> Measurement:
    data: dict[str, Any] = json.loads(text)
    return Measurement(
        metrics=data["metrics"], step=data["step"], time=data["time"], report_id=data["report_id"]
    )


class Spool:
    """One reporter's spool file; thread safe. Created on first use, removed when empty.

    Args:
        path: The file.
        max_bytes: Most bytes of measurement text it holds; the oldest go first.
    """

    def __init__(self, path: Path, max_bytes: int) -> None:
        self._path = path
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._holder: int | None = None  # the fd holding the flock
        self._bytes = 0
        self._count = 0
        self.n_dropped = 0
        """Measurements dropped because the spool was full."""

    @property
    def path(self) -> Path:
        """The file."""
        return self._path

    def __len__(self) -> int:
        with self._lock:
            return self._count

    def append(self, measurements: Sequence[Measurement]) -> int:
        """Add measurements at the tail; returns how many older ones were dropped for room.

        Raises:
            OSError, sqlite3.Error: The file cannot be written.
        """
        rows = [(_encode(m),) for m in measurements]
        with self._lock:
            connection = self._open()
            dropped = 0
            incoming = sum(len(text) for (text,) in rows)
            with connection:
                excess = self._bytes + incoming - self._max_bytes
                while excess > 0 and self._count > 0:
                    seq, size = connection.execute(
                        "SELECT seq, length(payload) FROM spool ORDER BY seq LIMIT 1"
                    ).fetchone()
                    connection.execute("DELETE FROM spool WHERE seq = ?", (seq,))
                    self._bytes -= size
                    self._count -= 1
                    excess -= size
                    dropped += 1
                keep = rows
                while excess > 0 and keep:  # bigger than the whole spool: keep the newest
                    excess -= len(keep[0][0])
                    incoming -= len(keep[0][0])
                    keep = keep[1:]
                    dropped += 1
                connection.executemany("INSERT INTO spool (payload) VALUES (?)", keep)
            self._bytes += incoming
            self._count += len(keep)
            self.n_dropped += dropped
            return dropped

    def head(self, count: int) -> list[tuple[int, Measurement]]:
        """The oldest ``count`` measurements with their row numbers."""
        with self._lock:
            if self._connection is None or self._count == 0:
                return []
            rows = self._connection.execute(
                "SELECT seq, payload FROM spool ORDER BY seq LIMIT ?", (count,)
            ).fetchall()
        return [(seq, _decode(payload)) for seq, payload in rows]

    def remove(self, seqs: Sequence[int]) -> None:
        """Delete delivered rows."""
        if not seqs:
            return
        with self._lock:
            if self._connection is None:
                return
            with self._connection:
                for seq in seqs:
                    size = self._connection.execute(
                        "SELECT length(payload) FROM spool WHERE seq = ?", (seq,)
                    ).fetchone()
                    if size is None:
                        continue
                    self._connection.execute("DELETE FROM spool WHERE seq = ?", (seq,))
                    self._bytes -= size[0]
                    self._count -= 1

    def close(self) -> None:
        """Close the file, deleting it when empty; keep it (for a later flush) otherwise."""
        with self._lock:
            if self._connection is None:
                return
            self._connection.close()
            self._connection = None
            if self._count == 0:
                for suffix in ("", "-wal", "-shm", "-journal"):
                    with contextlib.suppress(FileNotFoundError):
                        Path(f"{self._path}{suffix}").unlink()
            else:
                logger.warning(
                    "%d measurements stay in %s; they are delivered by the trial's next "
                    "collector or by `tuner report --flush`",
                    self._count,
                    self._path,
                )
            if self._holder is not None:
                os.close(self._holder)  # releases the flock
                self._holder = None

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            holder = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(holder, fcntl.LOCK_EX)
            self._holder = holder
            self._connection = _connect(self._path)
            self._bytes, self._count = self._connection.execute(
                "SELECT coalesce(sum(length(payload)), 0), count(*) FROM spool"
            ).fetchone()
            logger.info("spooling undelivered measurements to %s", self._path)
        return self._connection


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
    connection.execute(
        "CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT)"
    )
    connection.commit()
    return connection


@contextlib.contextmanager
def _claim(path: Path) -> Iterator[bool]:
    """Hold a spool file nobody else holds; yields False if its reporter still lives."""
    try:
        holder = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        yield False
        return
    try:
        try:
            fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(holder)


def flush_spools(
    backend: Backend,
    trial_id: int,
    directory: Path | None = None,
    *,
    batch_size: int = 500,
    exclude: Path | None = None,
) -> tuple[int, int]:
    """Deliver the spool files other reporters of ``trial_id`` left behind, oldest first.

    Files still held by a living reporter are skipped. A file is deleted once delivered,
    or when the service refuses it (the trial finished or is gone: its measurements can
    never be stored). Stops at the first ``UnavailableError``, keeping what is left.

    Args:
        backend: Where to deliver.
        trial_id: The trial whose spools to deliver.
        directory: The spool directory; None means :func:`default_spool_dir`.
        batch_size: Measurements per call.
        exclude: A spool file to leave alone (the caller's own).

    Returns:
        How many measurements were delivered and how many were refused.

    Raises:
        TunerError: The service cannot be reached (``UnavailableError``) or the call
            failed otherwise; what is delivered so far stays delivered, the rest stays.
    """
    directory = default_spool_dir() if directory is None else directory
    files = sorted(directory.glob(f"trial-{trial_id}.*{_SUFFIX}"), key=lambda p: p.stat().st_mtime)
    delivered = refused = 0
    for path in files:
        if exclude is not None and path == exclude:
            continue
        with _claim(path) as claimed:
            if not claimed:
                continue
            connection = _connect(path)
            try:
                while True:
                    rows = connection.execute(
                        "SELECT seq, payload FROM spool ORDER BY seq LIMIT ?", (batch_size,)
                    ).fetchall()
                    if not rows:
                        break
                    batch = [_decode(payload) for _, payload in rows]
                    try:
                        backend.report_measurements(trial_id, batch)
                    except _REFUSALS as error:
                        total = connection.execute("SELECT count(*) FROM spool").fetchone()[0]
                        logger.error(
                            "trial %d: the service refused the %d spooled measurements in "
                            "%s (%s); deleting them",
                            trial_id,
                            total,
                            path,
                            error,
                        )
                        refused += total
                        break
                    with connection:
                        connection.executemany(
                            "DELETE FROM spool WHERE seq = ?", [(seq,) for seq, _ in rows]
                        )
                    delivered += len(rows)
            finally:
                connection.close()
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{path}{suffix}").unlink()
            logger.info("trial %d: delivered the spool %s", trial_id, path)
    return delivered, refused
