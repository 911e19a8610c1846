"""The Push collector: a trial reports its own metrics, ``tuner.report(loss=0.1)``.

The trial finds its id in ``TUNER_TRIAL_ID`` and the service in ``TUNER_SERVICE_ENDPOINT``
(``tuner run`` and the Kubernetes operator set both). One process-wide
:class:`~tuner.collectors.MeasurementReporter` sends in the background and is closed at
exit (``atexit``), delivering for at most the grace period (``TUNER_REPORT_GRACE_PERIOD``,
30 s) and spooling the rest. With no endpoint set (a plain script run by hand) ``report``
warns once and does nothing, so the same training script runs with and without tuner.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tuner.collectors._environment import (
    ENDPOINT_ENV,
    TOKEN_ENV,
    TRIAL_ID_ENV,
    trial_and_client,
)
from tuner.collectors._parse import parse_number
from tuner.collectors._reporter import MeasurementReporter
from tuner.collectors._spool import default_spool_dir, flush_spools
from tuner.errors import InvalidArgumentError

if TYPE_CHECKING:
    pass

__all__ = [
    "ENDPOINT_ENV",
    "TOKEN_ENV",
    "TRIAL_ID_ENV",
    "flush_trial_spools",
    "parse_metric_assignments",
    "report",
    "report_once",
]

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_state: dict[str, object] = {}  # "pid", "reporter", "client", "warned"


def _reporter() -> MeasurementReporter | None:
    """This process's reporter, made on first use (again in a forked child)."""
    with _lock:
        if _state.get("pid") == os.getpid():
            return _state.get("reporter")  # type: ignore[return-value]
        found = trial_and_client(os.environ)
        _state.clear()
        _state["pid"] = os.getpid()
        if found is None:
            warnings.warn(
                f"tuner.report: {ENDPOINT_ENV} is not set, so metrics are reported nowhere "
                "(they are when the script runs as a tuner trial)",
                RuntimeWarning,
                stacklevel=4,
            )
            _state["reporter"] = None
            return None
        trial_id, client = found
        reporter = MeasurementReporter(client, trial_id)
        _state["reporter"] = reporter
        _state["client"] = client
        atexit.register(_close_at_exit, os.getpid())
        return reporter


def _close_at_exit(pid: int) -> None:
    with _lock:
        if _state.get("pid") != pid or pid != os.getpid():
            return  # a forked child exiting: the parent's reporter is not ours to close
        reporter = _state.pop("reporter", None)
        client = _state.pop("client", None)
    if isinstance(reporter, MeasurementReporter):
        reporter.close()
    close = getattr(client, "close", None)
    if callable(close):
        close()


def report(step: int | None = None, **metrics: float) -> None:
    """Report metric values of the running trial; returns at once.

    Values given in one call form one measurement at ``step``. Without a step, the k-th
    value of a metric (counting those with a step too) gets step k. Sending happens in the
    background; what is still unsent when the process exits is delivered then, for at most
    ``$TUNER_REPORT_GRACE_PERIOD`` seconds (default 30), and what is left after that stays
    in the spool (``$TUNER_SPOOL_DIR``) for ``tuner report --flush``.

    Outside a tuner trial (``TUNER_SERVICE_ENDPOINT`` unset) it logs one warning and does
    nothing.

    Args:
        step: The step (epoch, iteration) the values belong to, an integer >= 0.
        **metrics: Metric values; NaN and infinities are kept.

    Raises:
        InvalidArgumentError: No metrics, a bad step or value, or ``TUNER_TRIAL_ID`` is
            not an integer while an endpoint is set.

    Examples:
        >>> import tuner
        >>> tuner.report(step=1, loss=0.25, accuracy=0.9)  # doctest: +SKIP
    """
    if not metrics:
        raise InvalidArgumentError("give at least one metric, as report(loss=0.1)", field="metrics")
    values = _numbers(metrics)
    reporter = _reporter()
    if reporter is None:
        return
    for name, value in values.items():
        reporter.record(name, value, step=step)


def _numbers(metrics: Mapping[str, object]) -> dict[str, float]:
    values = {}
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                value = float(value)  # type: ignore[arg-type]  # numpy and torch scalars
            except (TypeError, ValueError):
                raise InvalidArgumentError(
                    f"metric value must be a number, got {value!r}", field=name
                ) from None
        values[name] = float(value)
    return values


def parse_metric_assignments(arguments: Sequence[str]) -> dict[str, float]:
    """``["loss=0.5", "acc=nan"]`` as ``{"loss": 0.5, "acc": nan}``.

    Raises:
        InvalidArgumentError: An argument is not ``NAME=NUMBER`` (field ``metrics[i]``).

    Examples:
        >>> parse_metric_assignments(["loss=0.5", "val/acc=-inf"])
        {'loss': 0.5, 'val/acc': -inf}
    """
    metrics: dict[str, float] = {}
    for i, argument in enumerate(arguments):
        name, equals, text = argument.partition("=")
        value = parse_number(text.strip()) if equals else None
        if not name.strip() or value is None:
            raise InvalidArgumentError(
                f"expected NAME=NUMBER (a decimal, inf, -inf or nan), got {argument!r}",
                field=f"metrics[{i}]",
            )
        metrics[name.strip()] = value
    return metrics


def report_once(
    metrics: Mapping[str, float],
    *,
    step: int | None = None,
    env: Mapping[str, str] | None = None,
    grace_period: float | None = None,
) -> bool:
    """Report one measurement from a short-lived process (``tuner report``); waits for it.

    Without ``step``, each metric's values are numbered 1, 2, ... across the calls of one
    trial, counted in a small file next to the spool (``trial-<id>.steps``).

    Args:
        metrics: Metric values.
        step: The step; None counts per metric as said.
        env: Where to read ``TUNER_*`` from; None means ``os.environ``.
        grace_period: Most seconds to try delivering; what is left is spooled.

    Returns:
        Whether the measurement was delivered (False also without an endpoint).

    Raises:
        InvalidArgumentError: No metrics, a bad step, or a bad ``TUNER_TRIAL_ID``.
    """
    if not metrics:
        raise InvalidArgumentError("give at least one metric, as loss=0.1", field="metrics")
    values = _numbers(metrics)
    environ = os.environ if env is None else env
    found = trial_and_client(environ)
    if found is None:
        logger.warning("%s is not set, so the metrics are reported nowhere", ENDPOINT_ENV)
        return False
    trial_id, client = found
    directory = Path(environ.get("TUNER_SPOOL_DIR") or default_spool_dir())
    try:
        reporter = MeasurementReporter(client, trial_id, spool_dir=directory)
        steps = {}
        if step is None:
            steps = _next_steps(directory, trial_id, values)
        for name, value in values.items():
            reporter.record(name, value, step=steps.get(name, step))
        return reporter.close(grace_period)
    finally:
        close = getattr(client, "close", None)
        if callable(close):
            close()


def _next_steps(directory: Path, trial_id: int, names: Mapping[str, float]) -> dict[str, int]:
    """The next step of each metric for ``tuner report`` calls without ``--step``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"trial-{trial_id}.steps"
    with open(path, "a+", encoding="utf-8") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        file.seek(0)
        counts: dict[str, int] = {}
        with contextlib.suppress(ValueError):
            counts = json.loads(file.read() or "{}")
        steps = {name: counts.get(name, 0) + 1 for name in names}
        counts.update(steps)
        file.seek(0)
        file.truncate()
        file.write(json.dumps(counts))
    return steps


def flush_trial_spools(env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """Deliver the spool files of the trial in ``TUNER_TRIAL_ID`` (``tuner report --flush``).

    Returns:
        How many measurements were delivered and how many the service refused.

    Raises:
        InvalidArgumentError: No endpoint, or a bad trial id.
        UnavailableError: The service cannot be reached; the spools stay.
    """
    environ = os.environ if env is None else env
    found = trial_and_client(environ)
    if found is None:
        raise InvalidArgumentError(f"{ENDPOINT_ENV} is not set", field=ENDPOINT_ENV)
    trial_id, client = found
    directory = Path(environ.get("TUNER_SPOOL_DIR") or default_spool_dir())
    try:
        return flush_spools(client, trial_id, directory)
    finally:
        close = getattr(client, "close", None)
        if callable(close):
            close()
