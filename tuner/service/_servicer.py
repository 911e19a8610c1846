"""The gRPC servicer: converts each request, delegates to a backend, converts the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuner._proto import convert, service_pb2, service_pb2_grpc
from tuner.errors import InvalidArgumentError
from tuner.service._errors import rpc

if TYPE_CHECKING:
    import grpc

    from tuner._proto import study_pb2, trial_pb2
    from tuner.backend import Backend

__all__ = ["TunerServicer"]


class TunerServicer(service_pb2_grpc.TunerServiceServicer):
    """``tuner.v1.TunerService`` over a backend (a :class:`~tuner.service.ServiceCore`).

    Holds no state and no logic: every method converts, delegates and converts back;
    :func:`~tuner.service._errors.rpc` turns every exception into its status code.
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    @rpc
    def CreateStudy(
        self, request: service_pb2.CreateStudyRequest, context: grpc.ServicerContext
    ) -> study_pb2.Study:
        if not request.HasField("config"):
            raise InvalidArgumentError("a study needs a config", field="config")
        config = convert.config_from_proto(request.config, "config")
        return convert.study_to_proto(self._backend.create_study(request.name, config))

    @rpc
    def GetStudy(
        self, request: service_pb2.GetStudyRequest, context: grpc.ServicerContext
    ) -> study_pb2.Study:
        return convert.study_to_proto(self._backend.get_study(request.name))

    @rpc
    def ListStudies(
        self, request: service_pb2.ListStudiesRequest, context: grpc.ServicerContext
    ) -> service_pb2.ListStudiesResponse:
        studies = self._backend.list_studies()
        return service_pb2.ListStudiesResponse(studies=[convert.study_to_proto(s) for s in studies])

    @rpc
    def DeleteStudy(
        self, request: service_pb2.DeleteStudyRequest, context: grpc.ServicerContext
    ) -> service_pb2.DeleteStudyResponse:
        self._backend.delete_study(request.name)
        return service_pb2.DeleteStudyResponse()

    @rpc
    def SetStudyState(
        self, request: service_pb2.SetStudyStateRequest, context: grpc.ServicerContext
    ) -> study_pb2.Study:
        state = convert.study_state_from_proto(request.state, "state")
        study = self._backend.set_study_state(request.name, state, request.reason)
        return convert.study_to_proto(study)

    @rpc
    def SuggestTrials(
        self, request: service_pb2.SuggestTrialsRequest, context: grpc.ServicerContext
    ) -> service_pb2.SuggestTrialsResponse:
        suggestions = self._backend.suggest_trials(
            request.study_name, request.count, request.client_id
        )
        return service_pb2.SuggestTrialsResponse(
            trials=convert.trials_to_proto(suggestions.trials),
            is_exhausted=suggestions.is_exhausted,
        )

    @rpc
    def AddTrial(
        self, request: service_pb2.AddTrialRequest, context: grpc.ServicerContext
    ) -> trial_pb2.Trial:
        parameters = convert.parameters_from_proto(request.parameters, "parameters")
        return convert.trial_to_proto(self._backend.add_trial(request.study_name, parameters))

    @rpc
    def GetTrial(
        self, request: service_pb2.GetTrialRequest, context: grpc.ServicerContext
    ) -> trial_pb2.Trial:
        return convert.trial_to_proto(self._backend.get_trial(request.trial_id))

    @rpc
    def ListTrials(
        self, request: service_pb2.ListTrialsRequest, context: grpc.ServicerContext
    ) -> service_pb2.ListTrialsResponse:
        states = None
        if request.HasField("filter"):
            states = convert.trial_states_from_proto(request.filter.states, "filter.states")
        trials = self._backend.list_trials(request.study_name, states)
        return service_pb2.ListTrialsResponse(trials=convert.trials_to_proto(trials))

    @rpc
    def CountTrials(
        self, request: service_pb2.CountTrialsRequest, context: grpc.ServicerContext
    ) -> service_pb2.CountTrialsResponse:
        counts = self._backend.count_trials(request.study_name)
        return service_pb2.CountTrialsResponse(counts=convert.trial_counts_to_proto(counts))

    @rpc
    def ReportMeasurements(
        self, request: service_pb2.ReportMeasurementsRequest, context: grpc.ServicerContext
    ) -> service_pb2.ReportMeasurementsResponse:
        measurements = [
            convert.measurement_from_proto(m, f"measurements[{i}]")
            for i, m in enumerate(request.measurements)
        ]
        diagnostics = None
        if request.HasField("diagnostics"):
            diagnostics = convert.diagnostics_from_proto(request.diagnostics, "diagnostics")
        self._backend.report_measurements(request.trial_id, measurements, diagnostics=diagnostics)
        return service_pb2.ReportMeasurementsResponse()

    @rpc
    def CompleteTrial(
        self, request: service_pb2.CompleteTrialRequest, context: grpc.ServicerContext
    ) -> trial_pb2.Trial:
        final = None
        if request.HasField("final_measurement"):
            final = convert.measurement_from_proto(request.final_measurement, "final_measurement")
        trial = self._backend.complete_trial(
            request.trial_id, final, infeasible_reason=request.infeasible_reason
        )
        return convert.trial_to_proto(trial)

    @rpc
    def FailTrial(
        self, request: service_pb2.FailTrialRequest, context: grpc.ServicerContext
    ) -> trial_pb2.Trial:
        return convert.trial_to_proto(self._backend.fail_trial(request.trial_id, request.reason))

    @rpc
    def StopTrial(
        self, request: service_pb2.StopTrialRequest, context: grpc.ServicerContext
    ) -> trial_pb2.Trial:
        return convert.trial_to_proto(self._backend.stop_trial(request.trial_id))

    @rpc
    def CheckTrialEarlyStopping(
        self, request: service_pb2.CheckTrialEarlyStoppingRequest, context: grpc.ServicerContext
    ) -> trial_pb2.StopDecision:
        decision = self._backend.check_trial_early_stopping(request.trial_id)
        return convert.stop_decision_to_proto(decision)

    @rpc
    def ListOptimalTrials(
        self, request: service_pb2.ListOptimalTrialsRequest, context: grpc.ServicerContext
    ) -> service_pb2.ListOptimalTrialsResponse:
        trials = self._backend.list_optimal_trials(request.study_name)
        return service_pb2.ListOptimalTrialsResponse(trials=convert.trials_to_proto(trials))
