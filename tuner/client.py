"""The Python gRPC client: every :class:`~tuner.backend.Backend` call against a tuner server.

Examples:
    >>> with Client("localhost:6789", token="s3cret") as client:  # doctest: +SKIP
    ...     [trial] = client.suggest_trials("mnist", client_id="worker-1").trials
    ...     client.complete_trial(trial.id, Measurement(metrics={"loss": 0.1}))
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

import grpc

from tuner._proto import convert, service_pb2, service_pb2_grpc
from tuner.backend import Suggestions
from tuner.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    TunerError,
    UnauthenticatedError,
    UnavailableError,
)

if TYPE_CHECKING:
    from typing import Self

    from tuner.config import StudyConfig, StudyInfo, StudyState
    from tuner.space import ParameterValue
    from tuner.trial import (
        CollectorDiagnostics,
        Measurement,
        StopDecision,
        Trial,
        TrialState,
    )

__all__ = ["Client", "error_from_rpc"]

logger = logging.getLogger(__name__)

_SERVICE = "tuner.v1.TunerService"
_FIELD_METADATA_KEY = "tuner-field-bin"  # as tuner.service.FIELD_METADATA_KEY
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # as tuner.service.MAX_MESSAGE_BYTES

_ERRORS: dict[grpc.StatusCode, type[TunerError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: UnavailableError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}
"""Each status code and the error it raises; any other code raises :class:`TunerError`."""

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")


def error_from_rpc(error: grpc.RpcError) -> TunerError:
    """The :mod:`tuner.errors` error a failed call stands for.

    ``INVALID_ARGUMENT`` keeps its field (from the ``tuner-field-bin`` trailing metadata);
    ``DEADLINE_EXCEEDED`` counts as unavailable; any code without a tuner error class
    (``INTERNAL``, ...) gives a :class:`TunerError` naming the code.
    """
    call = cast(grpc.Call, error)
    code = call.code()
    details = call.details() or ""
    cls = _ERRORS.get(code)
    if cls is InvalidArgumentError:
        field = ""
        for key, value in call.trailing_metadata() or ():
            if key == _FIELD_METADATA_KEY:
                field = value.decode() if isinstance(value, bytes) else value
        message = details.removeprefix(f"{field}: ") if field else details
        return InvalidArgumentError(message, field=field)
    if cls is None:
        return TunerError(f"{code.name}: {details}")
    return cls(details)


def _service_config(max_attempts: int, wait_for_ready: bool) -> str:
    policy = {
        "maxAttempts": max_attempts,
        "initialBackoff": "0.1s",
        "maxBackoff": "5s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }
    method_config: dict[str, Any] = {
        "name": [{"service": _SERVICE}],
        "waitForReady": wait_for_ready,
    }
    if max_attempts > 1:
        method_config["retryPolicy"] = policy
    return json.dumps({"methodConfig": [method_config]})


class Client:
    """A tuner server's :class:`~tuner.backend.Backend` calls over gRPC.

    Calls that fail with ``UNAVAILABLE`` are retried with exponential backoff by gRPC's
    own retry policy (a store that could not be reached changed nothing, so a retry is
    safe); with ``wait_for_ready`` a call made while the server is not up yet waits for it
    until ``timeout`` instead of failing at once. Errors come back as the
    :mod:`tuner.errors` the server raised. Thread safe; close it, or use it as a context
    manager.

    Args:
        endpoint: The server as a gRPC target, ``host:port``.
        token: The bearer token the server requires, if any.
        timeout: Seconds each call may take, retries included.
        root_certificates: PEM roots to verify a TLS server with; implies TLS.
        tls: Speak TLS, verifying the server with the system's roots unless
            ``root_certificates`` are given.
        max_attempts: Tries per call on ``UNAVAILABLE`` (at most 5; 1 disables retries).
        wait_for_ready: Wait for the server to be reachable rather than fail fast.

    Raises:
        ValueError: ``max_attempts`` is outside ``[1, 5]`` or ``timeout`` is not positive.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        root_certificates: bytes | None = None,
        tls: bool = False,
        max_attempts: int = 5,
        wait_for_ready: bool = True,
    ) -> None:
        if not 1 <= max_attempts <= 5:
            raise ValueError(f"max_attempts must be between 1 and 5, got {max_attempts}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        self._endpoint = endpoint
        self._timeout = timeout
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        options: list[tuple[str, Any]] = [
            ("grpc.service_config", _service_config(max_attempts, wait_for_ready)),
            ("grpc.enable_retries", 1 if max_attempts > 1 else 0),
            ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
        ]
        if tls or root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(endpoint, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(endpoint, options=options)
        self._stub = service_pb2_grpc.TunerServiceStub(self._channel)

    def __repr__(self) -> str:
        return f"Client({self._endpoint!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel; calls made afterwards fail."""
        self._channel.close()

    def _call(
        self, method: grpc.UnaryUnaryMultiCallable[_Request, _Response], request: _Request
    ) -> _Response:
        try:
            return method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise error_from_rpc(error) from None

    # --- studies ---------------------------------------------------------------------------

    def create_study(self, name: str, config: StudyConfig) -> StudyInfo:
        """Create a study; ``AlreadyExistsError`` if the name is taken, ``InvalidArgumentError``
        if the algorithm or its settings do not fit the config."""
        request = service_pb2.CreateStudyRequest(name=name, config=convert.config_to_proto(config))
        return convert.study_from_proto(self._call(self._stub.CreateStudy, request))

    def get_study(self, name: str) -> StudyInfo:
        """The study of that name; ``NotFoundError`` if there is none."""
        request = service_pb2.GetStudyRequest(name=name)
        return convert.study_from_proto(self._call(self._stub.GetStudy, request))

    def list_studies(self) -> list[StudyInfo]:
        """Every study, oldest first."""
        response = self._call(self._stub.ListStudies, service_pb2.ListStudiesRequest())
        return [convert.study_from_proto(s) for s in response.studies]

    def delete_study(self, name: str) -> None:
        """Delete a study and all its trials; ``NotFoundError`` if there is none."""
        self._call(self._stub.DeleteStudy, service_pb2.DeleteStudyRequest(name=name))

    def set_study_state(self, name: str, state: StudyState, reason: str = "") -> StudyInfo:
        """Mark a study completed or failed (or active again)."""
        request = service_pb2.SetStudyStateRequest(
            name=name, state=convert.study_state_to_proto(state), reason=reason
        )
        return convert.study_from_proto(self._call(self._stub.SetStudyState, request))

    # --- trials ----------------------------------------------------------------------------

    def suggest_trials(self, study_name: str, count: int = 1, client_id: str = "") -> Suggestions:
        """Hand out up to ``count`` trials to run, made ``ACTIVE``.

        A non-empty ``client_id`` that still holds active trials gets those back, so a
        worker that retries after a lost answer gets the same trials.
        """
        request = service_pb2.SuggestTrialsRequest(
            study_name=study_name, count=count, client_id=client_id
        )
        response = self._call(self._stub.SuggestTrials, request)
        return Suggestions(
            trials=tuple(convert.trial_from_proto(t) for t in response.trials),
            is_exhausted=response.is_exhausted,
        )

    def add_trial(self, study_name: str, parameters: Mapping[str, ParameterValue]) -> Trial:
        """Queue a trial with the given parameters (``REQUESTED``); it is handed out first."""
        request = service_pb2.AddTrialRequest(
            study_name=study_name, parameters=convert.parameters_to_proto(parameters)
        )
        return convert.trial_from_proto(self._call(self._stub.AddTrial, request))

    def get_trial(self, trial_id: int) -> Trial:
        """The trial with that id; ``NotFoundError`` if there is none."""
        request = service_pb2.GetTrialRequest(trial_id=trial_id)
        return convert.trial_from_proto(self._call(self._stub.GetTrial, request))

    def list_trials(
        self, study_name: str, states: Collection[TrialState] | None = None
    ) -> list[Trial]:
        """The study's trials, by number, optionally only those in ``states``."""
        request = service_pb2.ListTrialsRequest(study_name=study_name)
        if states is not None:
            request.filter.states.extend(convert.trial_state_to_proto(s) for s in states)
            request.filter.SetInParent()
        response = self._call(self._stub.ListTrials, request)
        return [convert.trial_from_proto(t) for t in response.trials]

    def count_trials(self, study_name: str) -> dict[TrialState, int]:
        """How many of the study's trials are in each state, without fetching the trials.

        Every :class:`~tuner.trial.TrialState` is a key, 0 for a state no trial is in.
        """
        request = service_pb2.CountTrialsRequest(study_name=study_name)
        response = self._call(self._stub.CountTrials, request)
        return convert.trial_counts_from_proto(response.counts)

    def report_measurements(
        self,
        trial_id: int,
        measurements: Sequence[Measurement],
        *,
        diagnostics: CollectorDiagnostics | None = None,
    ) -> None:
        """Append intermediate measurements to an unfinished trial.

        Measurements whose ``report_id`` the trial already has are skipped (see
        :meth:`tuner.backend.Backend.report_measurements`).
        """
        request = service_pb2.ReportMeasurementsRequest(
            trial_id=trial_id,
            measurements=[convert.measurement_to_proto(m) for m in measurements],
        )
        if diagnostics is not None:
            request.diagnostics.CopyFrom(convert.diagnostics_to_proto(diagnostics))
        self._call(self._stub.ReportMeasurements, request)

    def complete_trial(
        self,
        trial_id: int,
        final_measurement: Measurement | None = None,
        *,
        infeasible_reason: str = "",
    ) -> Trial:
        """Finish a trial with its result (see :meth:`tuner.backend.Backend.complete_trial`).

        Raises:
            InvalidArgumentError: There is no value of the objective metric (field
                ``final_measurement``); the trial is left as it was.
            FailedPreconditionError: The trial is already finished.
        """
        request = service_pb2.CompleteTrialRequest(
            trial_id=trial_id, infeasible_reason=infeasible_reason
        )
        if final_measurement is not None:
            request.final_measurement.CopyFrom(convert.measurement_to_proto(final_measurement))
        return convert.trial_from_proto(self._call(self._stub.CompleteTrial, request))

    def fail_trial(self, trial_id: int, reason: str) -> Trial:
        """Finish a trial as ``FAILED``: it crashed, or produced no objective value."""
        request = service_pb2.FailTrialRequest(trial_id=trial_id, reason=reason)
        return convert.trial_from_proto(self._call(self._stub.FailTrial, request))

    def stop_trial(self, trial_id: int) -> Trial:
        """Ask for an active trial to stop early (``STOPPING``); its runner acts on it."""
        request = service_pb2.StopTrialRequest(trial_id=trial_id)
        return convert.trial_from_proto(self._call(self._stub.StopTrial, request))

    def check_trial_early_stopping(self, trial_id: int) -> StopDecision:
        """Apply the study's early-stopping rule to a trial; stop it if the rule says so.

        See :meth:`tuner.backend.Backend.check_trial_early_stopping`: when the answer is
        ``should_stop``, the trial is already ``STOPPING``.
        """
        request = service_pb2.CheckTrialEarlyStoppingRequest(trial_id=trial_id)
        return convert.stop_decision_from_proto(
            self._call(self._stub.CheckTrialEarlyStopping, request)
        )

    def list_optimal_trials(self, study_name: str) -> list[Trial]:
        """The succeeded trials with the best finite objective value (ties included)."""
        request = service_pb2.ListOptimalTrialsRequest(study_name=study_name)
        response = self._call(self._stub.ListOptimalTrials, request)
        return [convert.trial_from_proto(t) for t in response.trials]
