"""The TensorFlowEvent collector's source: scalars from TensorBoard event files, as written."""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from tuner.collectors._watch import MetricSink
from tuner.errors import InvalidArgumentError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["EventFilesSource", "require_tfevents"]

logger = logging.getLogger(__name__)

_EXTRA_HINT = "the TensorFlowEvent collector needs tensorboard: pip install 'tuner[tfevents]'"
_CHUNK_SIZE = 1024 * 1024
_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8
_NUMERIC_KINDS = "fiu"


def require_tfevents() -> None:
    """Import what reading event files needs, or raise ImportError naming the extra."""
    _modules()


def _modules() -> tuple[Any, Any, Callable[[bytes], int]]:
    """``(event_pb2, tensor_util, crc32c)``: loaded on first use, as they are heavy."""
    try:
        import google_crc32c
        from tensorboard.compat.proto import event_pb2
        from tensorboard.util import tensor_util
    except ImportError as error:
        raise ImportError(f"{_EXTRA_HINT} ({error})") from error
    return event_pb2, tensor_util, google_crc32c.value


class EventFilesSource:
    """Reads scalar values from the TensorBoard event files under a directory, as written.

    Every file whose name contains ``tfevents`` anywhere under ``directory`` is read as it
    grows (TFRecord framing, both CRCs checked; a record cut short waits for its end).
    Scalar summaries (``simple_value``, TF1 and ``torch.utils.tensorboard``) and tensor
    summaries holding one number (TF2 ``tf.summary.scalar``, ``tensorboard.summary``) are
    read; images, histograms, text and larger tensors are skipped. The event's step and
    wall time become the observation's step and time.

    A value with tag ``T`` in a file in the sub-directory ``D`` (relative to ``directory``)
    is a value of the metric ``T``, and of ``S/T`` for every trailing part ``S`` of ``D``:
    Keras's ``train/events...`` tag ``epoch_accuracy`` is the metric ``epoch_accuracy``
    and ``train/epoch_accuracy``; in ``run1/train`` also ``run1/train/epoch_accuracy``.
    A metric name without a directory thus takes the values of its tag from every file
    (as Katib does); name ``train/accuracy`` to take only those under a ``train``
    directory. A tag that contains ``/`` itself (``add_scalar("val/loss")``) is matched
    whole. Unlike Katib, a tag must equal the name, not merely start with it.

    Event files that exist when the source is made are taken as left from an earlier
    run and skipped (event writers always start a new file).

    Args:
        directory: The directory the trial writes event files to; relative to the
            working directory. It may appear after the trial starts.
        metric_names: The metrics to read.

    Raises:
        ImportError: tensorboard or google-crc32c is not installed (``tuner[tfevents]``).
        InvalidArgumentError: No metric names.
    """

    def __init__(self, directory: str, metric_names: Iterable[str]) -> None:
        self._event_pb2, self._tensor_util, self._crc32c = _modules()
        self._directory = os.path.abspath(directory)
        self._names = frozenset(metric_names)
        if not self._names or not all(self._names):
            raise InvalidArgumentError(
                "at least one non-empty metric name is needed", field="metric_names"
            )
        self._readers: dict[str, _RecordReader] = {}
        self._stale = set(self._event_files())
        if self._stale:
            logger.info(
                "skipping %d event files already in %s (from an earlier run)",
                len(self._stale),
                self._directory,
            )

    @property
    def description(self) -> str:
        return f"the event files in {self._directory}"

    @property
    def expectation(self) -> str:
        return (
            "scalar summaries with those tags (or 'dir/tag' for event files in a "
            "sub-directory 'dir')"
        )

    def poll(self, sink: MetricSink) -> None:
        """Read the records written since the last call, file by file in name order."""
        for path in sorted(self._event_files()):
            if path in self._stale:
                continue
            reader = self._readers.get(path)
            if reader is None:
                reader = self._readers[path] = _RecordReader(path, self._crc32c)
            for record in reader.read(sink):
                self._handle(path, record, sink)

    def drain(self, sink: MetricSink) -> None:
        """Read what is left; a record still cut short is counted as unreadable."""
        self.poll(sink)
        for path, reader in self._readers.items():
            if reader.n_pending_bytes:
                sink.record_unparseable(
                    f"{reader.n_pending_bytes} bytes of an incomplete record at the end",
                    source=path,
                )

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def _event_files(self) -> Iterator[str]:
        for root, _, files in os.walk(self._directory):
            for name in files:
                if "tfevents" in name:
                    yield os.path.join(root, name)

    def _handle(self, path: str, record: bytes, sink: MetricSink) -> None:
        try:
            event = self._event_pb2.Event.FromString(record)
        except Exception:  # protobuf's DecodeError, whose module differs by implementation
            sink.record_unparseable(f"a record of {len(record)} bytes", source=path)
            return
        if not event.HasField("summary"):
            return
        prefixes = _prefixes(os.path.relpath(os.path.dirname(path), self._directory))
        step = int(event.step) if event.step >= 0 else None
        for value in event.summary.value:
            candidates = (prefix + value.tag for prefix in prefixes)
            wanted = [name for name in candidates if name in self._names]
            if not wanted:
                continue
            number = self._number(value)
            if number is None:
                sink.record_unparseable(f"tag {value.tag!r} is not one number", source=path)
                continue
            for name in wanted:
                sink.record(name, number, step=step, time=event.wall_time or None)

    def _number(self, value: Any) -> float | None:
        kind = value.WhichOneof("value")
        if kind == "simple_value":
            return float(value.simple_value)
        if kind != "tensor":
            return None
        try:
            array = self._tensor_util.make_ndarray(value.tensor)
        except Exception:  # an unknown dtype or a malformed tensor
            return None
        if array.size != 1 or array.dtype.kind not in _NUMERIC_KINDS:
            return None
        return float(array.reshape(-1)[0])


def _prefixes(relative_dir: str) -> list[str]:
    """``""`` and ``"S/"`` for every trailing part ``S`` of a relative directory."""
    if relative_dir in ("", os.curdir):
        return [""]
    parts = relative_dir.split(os.sep)
    return [""] + ["/".join(parts[i:]) + "/" for i in range(len(parts) - 1, -1, -1)]


class _RecordReader:
    """Reads the TFRecords of one file as it grows; a record cut short waits for its end."""

    def __init__(self, path: str, crc32c: Callable[[bytes], int]) -> None:
        self._path = path
        self._crc32c = crc32c
        self._fd: int | None = os.open(path, os.O_RDONLY)
        self._buffer = bytearray()
        self._is_corrupt = False

    @property
    def n_pending_bytes(self) -> int:
        """Bytes read that do not make a whole record yet."""
        return len(self._buffer)

    def read(self, sink: MetricSink) -> Iterator[bytes]:
        """The records completed since the last call."""
        while self._fd is not None and not self._is_corrupt:
            yield from self._records(sink)
            chunk = os.read(self._fd, _CHUNK_SIZE)
            if not chunk:
                return
            self._buffer += chunk

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _records(self, sink: MetricSink) -> Iterator[bytes]:
        buffer = self._buffer
        position = 0
        try:
            while len(buffer) - position >= _HEADER.size:
                length, length_crc = _HEADER.unpack_from(buffer, position)
                if self._masked_crc(buffer[position : position + 8]) != length_crc:
                    # Without a trustworthy length there is no next record to find.
                    self._is_corrupt = True
                    sink.record_unparseable(
                        f"a record header at byte {position} fails its checksum; "
                        "the rest of the file is skipped",
                        source=self._path,
                    )
                    return
                start = position + _HEADER.size
                end = start + length + _FOOTER.size
                if len(buffer) < end:
                    return
                data = bytes(buffer[start : start + length])
                (data_crc,) = _FOOTER.unpack_from(buffer, start + length)
                position = end
                if self._masked_crc(data) != data_crc:
                    sink.record_unparseable(
                        f"a record of {length} bytes fails its checksum", source=self._path
                    )
                    continue
                yield data
        finally:
            del buffer[:position]

    def _masked_crc(self, data: bytes | bytearray) -> int:
        crc = self._crc32c(bytes(data))
        return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF
