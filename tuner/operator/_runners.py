"""How the operator names things and builds each Experiment's runner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from tuner.runners import KubernetesOwner, Runner, SecretKeySelector
    from tuner.spec import Experiment
    from tuner.trial import Trial

__all__ = ["RunnerFactory", "job_name", "kubernetes_runners", "study_name_of"]


class RunnerFactory(Protocol):
    """Builds the runner of one Experiment's trials."""

    def __call__(self, experiment: Experiment, owner: KubernetesOwner) -> Runner:
        """A runner for ``experiment``, whose Jobs ``owner`` owns.

        Raises:
            InvalidArgumentError: The experiment cannot run this way (``field`` says why).
        """
        ...


def kubernetes_runners(
    api_client: ApiClient,
    *,
    service_endpoint: str,
    retain: bool | None = None,
    token_secret: SecretKeySelector | None = None,
    pod_start_timeout: float | None = None,
) -> RunnerFactory:
    """Runners of trials as Jobs in the Experiment's namespace (:class:`KubernetesRunner`).

    Args:
        api_client: A configured ``kubernetes.client.ApiClient``.
        service_endpoint: The service as the trials' pods reach it (``TUNER_SERVICE_ENDPOINT``).
        retain: Keep finished Jobs; None: as each experiment's ``trialTemplate.retain``.
        token_secret: The Secret key (in each Experiment's namespace) whose value the trials'
            pods get as ``TUNER_SERVICE_TOKEN``; None: no token.
        pod_start_timeout: Seconds a trial's pod may wait, unable to start (a missing
            Secret, an image that cannot be pulled, ...), before the trial fails and its Job
            is deleted; None: the runner's default for each reason (300 s for image pulls,
            60 s for the rest; see :class:`~tuner.runners.KubernetesRunner`).
    """
    from tuner.runners import KubernetesRunner

    def build(experiment: Experiment, owner: KubernetesOwner) -> Runner:
        return KubernetesRunner(
            api_client=api_client,
            experiment=experiment,
            owner=owner,
            service_endpoint=service_endpoint,
            retain=retain,
            token_secret=token_secret,
            pod_start_timeout=pod_start_timeout,
        )

    return build


def study_name_of(namespace: str, name: str) -> str:
    """The study of Experiment ``name`` in ``namespace``: ``<namespace>/<name>``."""
    return f"{namespace}/{name}"


def job_name(experiment: Experiment, trial: Trial) -> str:
    """The name of ``trial``'s Job, as the runner names it."""
    from tuner.runners import trial_job_name

    return trial_job_name(experiment.name, trial.number)
