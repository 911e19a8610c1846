"""The File collector's source: follow a metrics file the trial writes, as it grows."""

from __future__ import annotations

import json
import logging
import os

from tuner.collectors._parse import MetricLineParser, strip_ansi
from tuner.collectors._watch import MetricSink

__all__ = ["MetricsFileSource"]

logger = logging.getLogger(__name__)

_CHUNK_SIZE = 64 * 1024
_MAX_LINE = 1024 * 1024
"""A line longer than this is read in pieces, so a file without line ends cannot fill memory."""
_GUARD_SIZE = 64
"""How many bytes before the read position are compared on each poll to notice a rewrite."""


class MetricsFileSource:
    """Reads metric lines from a file while it is written: Katib's ``File`` collector.

    Each complete line goes through ``parser`` (``metricsFormat`` regexes, or one JSON
    object per line); a last line without its line end waits for it until :meth:`drain`.
    The file may appear after the trial starts. A file that already exists when the source
    is made is taken as left from an earlier run: only what is written to it from then on
    is read. When the file is truncated or rewritten from its start (noticed by its size
    or by the bytes before the read position), it is read again from the start; when the
    path is renamed away and created anew (rotation), the old file is read to its end,
    then the new one from its start.

    Args:
        path: The metrics file; relative to the working directory.
        parser: Reads the values of the wanted metrics from a line.
    """

    def __init__(self, path: str, parser: MetricLineParser) -> None:
        self._path = os.path.abspath(path)
        self._parser = parser
        self._fd: int | None = None
        self._offset = 0
        self._partial = b""
        self._guard = b""
        try:
            self._open(at_end=True)
        except FileNotFoundError:
            pass
        else:
            logger.info(
                "%s exists already; reading only what is written to it from now on", self._path
            )

    @property
    def description(self) -> str:
        return f"the file {self._path}"

    @property
    def expectation(self) -> str:
        if self._parser.is_json_lines:
            return "JSON objects with those keys, one per line"
        return "lines matching the metrics format (by default name=value pairs)"

    def poll(self, sink: MetricSink) -> None:
        """Read the lines completed since the last call."""
        if self._fd is None:
            try:
                self._open(at_end=False)
            except FileNotFoundError:
                return
        elif self._is_replaced():
            self._read(sink)
            self._flush_partial(sink)
            self.close()
            try:
                self._open(at_end=False)
            except FileNotFoundError:
                return
            logger.info("%s was replaced; reading the new file from its start", self._path)
        if self._is_rewritten():
            logger.warning("%s was truncated or rewritten; reading it from its start", self._path)
            self._offset, self._partial, self._guard = 0, b"", b""
        self._read(sink)

    def drain(self, sink: MetricSink) -> None:
        """Read the rest, including a last line without its line end."""
        self.poll(sink)
        self._flush_partial(sink)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self, *, at_end: bool) -> None:
        fd = os.open(self._path, os.O_RDONLY)
        self._fd = fd
        self._partial = b""
        self._offset = os.fstat(fd).st_size if at_end else 0
        start = max(0, self._offset - _GUARD_SIZE)
        self._guard = os.pread(fd, self._offset - start, start)

    def _is_replaced(self) -> bool:
        """Whether the path now names another file than the one open."""
        assert self._fd is not None
        try:
            current = os.stat(self._path)
        except FileNotFoundError:
            return False  # deleted: the writer may still hold it open, so keep reading it
        opened = os.fstat(self._fd)
        return (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino)

    def _is_rewritten(self) -> bool:
        assert self._fd is not None
        if os.fstat(self._fd).st_size < self._offset:
            return True
        start = self._offset - len(self._guard)
        return bool(self._guard) and os.pread(self._fd, len(self._guard), start) != self._guard

    def _read(self, sink: MetricSink) -> None:
        assert self._fd is not None
        while True:
            chunk = os.pread(self._fd, _CHUNK_SIZE, self._offset)
            if not chunk:
                return
            self._offset += len(chunk)
            self._guard = (self._guard + chunk)[-_GUARD_SIZE:]
            lines = (self._partial + chunk).splitlines(keepends=True)
            self._partial = b"" if lines[-1].endswith((b"\n", b"\r")) else lines.pop()
            if len(self._partial) > _MAX_LINE:
                lines.append(self._partial)
                self._partial = b""
            for line in lines:
                self._handle(line, sink)

    def _flush_partial(self, sink: MetricSink) -> None:
        if self._partial:
            line, self._partial = self._partial, b""
            self._handle(line, sink)

    def _handle(self, raw: bytes, sink: MetricSink) -> None:
        line = raw.decode("utf-8", errors="replace")
        before = self._parser.n_unparseable
        observations = self._parser.parse(line)
        for name, value, step, observed_at in observations:
            sink.record(name, value, step=step, time=observed_at)
        if self._parser.n_unparseable > before or (
            not observations and self._parser.is_json_lines and not _is_json_object(line)
        ):
            sink.record_unparseable(line, source=self._path)


def _is_json_object(line: str) -> bool:
    """Whether ``line`` is blank or one JSON object (a JSON metrics file holds nothing else)."""
    line = strip_ansi(line).strip()
    if not line:
        return True
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
