"""The Kubernetes Job of one trial: its name, labels, owner, environment and wrapped command."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuner.errors import InvalidArgumentError

if TYPE_CHECKING:
    from tuner.spec import Experiment
    from tuner.trial import Trial

__all__ = [
    "EXPERIMENT_LABEL",
    "STUDY_ANNOTATION",
    "TRIAL_LABEL",
    "KubernetesOwner",
    "SecretKeySelector",
    "build_trial_job",
    "check_collector",
    "label_value",
    "trial_job_name",
]

EXPERIMENT_LABEL = "tuner.dev/experiment"
"""Label of every trial Job (and its pods): the experiment's name (see :func:`label_value`)."""
TRIAL_LABEL = "tuner.dev/trial"
"""Label of every trial Job (and its pods): the trial's id."""
STUDY_ANNOTATION = "tuner.dev/study"
"""Annotation of every trial Job: the trial's study name."""

_MAX_NAME = 63  # a Job's name becomes its pods' job-name label value
_INVALID_CHARS = re.compile(r"[^a-z0-9-]+")
_COLLECTOR_FIELD = "spec.metricsCollectorSpec.collector"
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class KubernetesOwner:
    """The object that owns the trial Jobs (the Experiment custom resource).

    Each Job gets an ownerReference to it (``controller: true``,
    ``blockOwnerDeletion: true``), so deleting the Experiment deletes its Jobs.

    Examples:
        >>> owner = KubernetesOwner(
        ...     api_version="tuner.dev/v1beta1", kind="Experiment", name="mnist", uid="42"
        ... )
        >>> owner.reference()["controller"]
        True
    """

    api_version: str
    kind: str
    name: str
    uid: str

    def __post_init__(self) -> None:
        for name in ("api_version", "kind", "name", "uid"):
            if not getattr(self, name):
                raise InvalidArgumentError("must not be empty", field=name)

    def reference(self) -> dict[str, Any]:
        """The ownerReference, as the API spells it."""
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretKeySelector:
    """One key of a Secret in the trial's namespace: where trial pods get the service's token.

    The Job refers to it (``valueFrom.secretKeyRef``), so the token is never written into
    the Job; the Secret must exist in each namespace whose Experiments run trials.

    Examples:
        >>> SecretKeySelector.parse("tuner-token")
        SecretKeySelector(name='tuner-token', key='token')
        >>> SecretKeySelector.parse("tuner-token:bearer").reference()
        {'secretKeyRef': {'name': 'tuner-token', 'key': 'bearer'}}
    """

    name: str
    key: str = "token"

    def __post_init__(self) -> None:
        if len(self.name) > 253 or not _DNS_SUBDOMAIN.fullmatch(self.name):
            raise InvalidArgumentError(
                f"{self.name!r} is not a Secret name (lower-case letters, digits, '-' and "
                "'.', starting and ending with a letter or digit)",
                field="name",
            )
        if len(self.key) > 253 or not _SECRET_KEY.fullmatch(self.key):
            raise InvalidArgumentError(
                f"{self.key!r} is not a Secret key (letters, digits, '-', '_' and '.')",
                field="key",
            )

    @classmethod
    def parse(cls, text: str) -> SecretKeySelector:
        """``NAME`` or ``NAME:KEY`` (the key defaults to ``token``).

        Raises:
            InvalidArgumentError: Not a valid Secret name or key.
        """
        name, sep, key = text.partition(":")
        return cls(name=name, key=key) if sep else cls(name=name)

    def reference(self) -> dict[str, Any]:
        """The ``valueFrom`` of an environment variable, as the API spells it."""
        return {"secretKeyRef": {"name": self.name, "key": self.key}}

    def __str__(self) -> str:
        return f"{self.name}:{self.key}"


def _shorten(text: str, limit: int, suffix: str = "") -> str:
    """``text + suffix`` if it fits in ``limit``, else a cut of ``text``, a hash and ``suffix``."""
    if len(text) + len(suffix) <= limit:
        return text + suffix
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    tail = f"-{digest}{suffix}"
    return text[: limit - len(tail)].rstrip("-.") + tail


def label_value(name: str) -> str:
    """A label value for ``name``: itself when it fits (63 characters), else cut and hashed.

    Examples:
        >>> label_value("mnist")
        'mnist'
        >>> len(label_value("a" * 100))
        63
    """
    return _shorten(name, _MAX_NAME)


def trial_job_name(experiment_name: str, trial_number: int) -> str:
    """The Job name of a trial: ``<experiment>-<trial number>``, a valid DNS-1123 label.

    Deterministic, so a restarted operator finds the Job again. A name that is no DNS-1123
    label (dots, capitals) has those characters replaced by ``-`` and a hash of the original
    added, so ``a.b`` and ``a-b`` do not share Jobs; a name longer than 63 characters keeps
    the number, and a hash stands for the part cut off.

    Examples:
        >>> trial_job_name("mnist", 3)
        'mnist-3'
        >>> trial_job_name("team.mnist", 3)
        'team-mnist-d3acf432-3'
        >>> name = trial_job_name("x" * 80, 12)
        >>> len(name), name.endswith("-12")
        (63, True)
    """
    base = _INVALID_CHARS.sub("-", experiment_name.lower()).strip("-")
    if base != experiment_name:
        digest = hashlib.sha256(experiment_name.encode()).hexdigest()[:8]
        base = f"{base}-{digest}" if base else digest
    return _shorten(base, _MAX_NAME, f"-{trial_number}")


def check_collector(experiment: Experiment) -> None:
    """Fail now if the experiment's metrics collector cannot wrap a command.

    Raises:
        InvalidArgumentError: Naming ``spec.metricsCollectorSpec.collector...``.
    """
    wrap_command(experiment, ("trial",))


def wrap_command(experiment: Experiment, argv: tuple[str, ...]) -> tuple[str, ...]:
    """``argv`` under the experiment's metrics collector (unchanged for None and Push)."""
    from tuner.collectors import collector_command

    try:
        return collector_command(
            argv,
            collector=experiment.metrics_collector,
            metric_names=experiment.objective.metric_names,
            python="python",  # the trial image's interpreter
        )
    except InvalidArgumentError as error:
        field = "kind" if error.field in ("", "kind") else error.field
        raise InvalidArgumentError(error.message, field=f"{_COLLECTOR_FIELD}.{field}") from None


def build_trial_job(
    experiment: Experiment,
    trial: Trial,
    *,
    owner: KubernetesOwner | None,
    service_endpoint: str,
    token_secret: SecretKeySelector | None = None,
) -> dict[str, Any]:
    """The Job that runs ``trial``: the rendered trial template, plus what tuner needs.

    That is: the name :func:`trial_job_name`; the labels :data:`EXPERIMENT_LABEL` and
    :data:`TRIAL_LABEL` on the Job and its pod template; an ownerReference to ``owner``;
    ``TUNER_TRIAL_ID``, ``TUNER_STUDY_NAME``, ``TUNER_SERVICE_ENDPOINT`` and, with
    ``token_secret``, ``TUNER_SERVICE_TOKEN`` from that Secret's key
    (``valueFrom.secretKeyRef``: the token itself is never in the Job) in the primary
    container's environment (replacing any the template sets); and the primary container's
    ``command + args`` wrapped by the metrics collector (the trial image must then have
    tuner installed, as ``python -m tuner.collectors``, which runs in the same container
    and so inherits the token).

    Raises:
        InvalidArgumentError: The trial does not fit the space, the Job has no primary
            container, or the collector needs a command the container lacks.
    """
    from tuner.spec import CollectorKind, primary_container, render_trial_job

    name = trial_job_name(experiment.name, trial.number)
    job = render_trial_job(experiment, trial, job_name=name)
    job["apiVersion"] = "batch/v1"
    job["kind"] = "Job"
    labels = {EXPERIMENT_LABEL: label_value(experiment.name), TRIAL_LABEL: str(trial.id)}
    metadata = job["metadata"]
    metadata["labels"] = {**_mapping(metadata.get("labels")), **labels}
    metadata["annotations"] = {
        **_mapping(metadata.get("annotations")),
        STUDY_ANNOTATION: trial.study_name,
    }
    if owner is not None:
        metadata["ownerReferences"] = [owner.reference()]
    spec = job.setdefault("spec", {})
    template = spec.setdefault("template", {})
    template_metadata = template["metadata"] = dict(_mapping(template.get("metadata")))
    template_metadata["labels"] = {**_mapping(template_metadata.get("labels")), **labels}

    container = primary_container(job)
    if not isinstance(container, dict):  # render_trial_job returns plain dicts
        raise InvalidArgumentError("the primary container is not an object", field="spec")
    ours: list[dict[str, Any]] = [
        {"name": "TUNER_TRIAL_ID", "value": str(trial.id)},
        {"name": "TUNER_STUDY_NAME", "value": trial.study_name},
        {"name": "TUNER_SERVICE_ENDPOINT", "value": service_endpoint},
    ]
    if token_secret is not None:
        # the wrapping collector runs in this container, so it inherits the variable
        ours.append({"name": "TUNER_SERVICE_TOKEN", "valueFrom": token_secret.reference()})
    names = {item["name"] for item in ours}
    env = [
        item
        for item in container.get("env") or []
        if not (isinstance(item, Mapping) and item.get("name") in names)
    ]
    container["env"] = env + ours

    kind = experiment.metrics_collector.kind
    if kind not in (CollectorKind.NONE, CollectorKind.PUSH):
        argv = tuple(str(a) for a in (*container.get("command", ()), *container.get("args", ())))
        if not container.get("command"):
            raise InvalidArgumentError(
                f"the {kind.value} metrics collector wraps the primary container's command, "
                f"and container {container.get('name')!r} has none (an image's entrypoint "
                "cannot be wrapped): give it a command",
                field="spec.trialTemplate.trialSpec.spec.template.spec.containers",
            )
        container["command"] = list(wrap_command(experiment, argv))
        container.pop("args", None)
    return job


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
