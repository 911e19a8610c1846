"""``load_experiment``: read, check and convert an Experiment document, all errors at once."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from tuner.config import StudyConfig
from tuner.errors import InvalidArgumentError
from tuner.spec._convert import (
    algorithm_error_loc,
    convert_algorithm,
    convert_budget,
    convert_early_stopping,
    convert_metrics_collector,
    convert_objective,
    convert_space,
    convert_trial_template,
    early_stopping_error_loc,
)
from tuner.spec._errors import ErrorSink, ExperimentError, FieldError, Loc, format_loc
from tuner.spec._experiment import Experiment
from tuner.spec._model import AlgorithmSection, EarlyStoppingSection, MetricsCollectorSection
from tuner.spec._sections import parse
from tuner.spec._source import Source, read_source
from tuner.spec._validate import check

__all__ = ["load_experiment"]

logger = logging.getLogger(__name__)

_MISSING = 1 << 30


def load_experiment(source: str | os.PathLike[str] | Mapping[str, Any]) -> Experiment:
    """Read an Experiment document, check all of it, and convert it to tuner's model.

    The document follows Katib's ``v1beta1`` Experiment (``apiVersion`` may be
    ``tuner.dev/v1beta1`` or ``kubeflow.org/v1beta1``). Nothing is written anywhere.

    Args:
        source: A path to a YAML file, YAML text, or an already-parsed mapping (which is
            copied, never changed). A one-line string naming an existing file, or ending
            in ``.yaml``, ``.yml`` or ``.json``, is a path.

    Returns:
        The validated experiment.

    Raises:
        ExperimentError: The document is invalid. It lists every mistake found, each with
            its field path (``spec.parameters[1].feasibleSpace.min``) and, for YAML text,
            its line; a file that cannot be read or YAML that does not parse gives one.
        TypeError: ``source`` is not a path, a string or a mapping.

    Examples:
        >>> load_experiment({"apiVersion": "tuner.dev/v1beta1", "kind": "Experiment"})
        Traceback (most recent call last):
        ...
        tuner.spec._errors.ExperimentError: 2 errors in the Experiment:
        metadata: is required
        spec: is required
    """
    read = read_source(source)
    errors = ErrorSink()
    for loc in read.duplicate_keys():
        errors.add(loc, "repeats a key of this mapping; YAML would keep only the last one")
    experiment = _build(read.data, errors)
    if errors or experiment is None:
        raise ExperimentError(_field_errors(errors, read), source=read.name)
    _warn_unreferenced(experiment)
    logger.debug("loaded experiment %s/%s", experiment.namespace, experiment.name)
    return experiment


def _build(data: Any, errors: ErrorSink) -> Experiment | None:
    if not isinstance(data, Mapping):
        what = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        errors.add((), f"the document is {what}: expected an Experiment (apiVersion, kind, ...)")
        return None
    sections = parse(data, errors)
    check(sections, errors)

    parameters = sections.complete_parameters
    space = objective = algorithm = None
    if parameters is not None and not errors.has_under(("spec", "parameters")):
        space = convert_space(parameters, errors)
    if sections.objective is not None and not errors.has_under(("spec", "objective")):
        objective = convert_objective(sections.objective, errors)
    if sections.algorithm is not None and not errors.has_under(("spec", "algorithm")):
        algorithm = convert_algorithm(sections.algorithm, errors)
    early_stopping = None
    section = sections.early_stopping
    if section is not None and not errors.has_under(("spec", "earlyStopping")):
        early_stopping = convert_early_stopping(section, errors)
    if space is not None and objective is not None and algorithm is not None:
        config = StudyConfig(space=space, objective=objective, algorithm=algorithm)
        _check_algorithm(config, sections.algorithm or AlgorithmSection(), errors)
        if section is not None and early_stopping is not None:
            config = StudyConfig(
                space=space, objective=objective, algorithm=algorithm, early_stopping=early_stopping
            )
            _check_early_stopping(config, section, errors)

    document = sections.document
    if errors or document is None or space is None or objective is None or algorithm is None:
        return None
    budget = convert_budget(document.spec, errors)
    if budget is None:
        return None
    return Experiment(
        name=document.metadata.name,
        namespace=document.metadata.namespace,
        space=space,
        objective=objective,
        algorithm=algorithm,
        budget=budget,
        trial_template=convert_trial_template(document.spec.trial_template),
        metrics_collector=convert_metrics_collector(
            sections.metrics_collector or MetricsCollectorSection()
        ),
        document=data,
        early_stopping=early_stopping,
    )


def _warn_unreferenced(experiment: Experiment) -> None:
    """A search parameter no trialParameter references never reaches the trial's command."""
    referenced = {
        p.reference for p in experiment.trial_template.trial_parameters if not p.metadata_reference
    }
    unreferenced = [name for name in experiment.space.names if name not in referenced]
    if unreferenced:
        logger.warning(
            "experiment %s: no trialParameter references the search parameter(s) %s, so the "
            "trials do not receive their values through the trialSpec",
            experiment.name,
            ", ".join(unreferenced),
        )


def _check_algorithm(config: StudyConfig, section: AlgorithmSection, errors: ErrorSink) -> None:
    """Let the algorithm refuse its name, its settings or the space (grid needs steps)."""
    # Imported here: the registry is light, but the spec needs it only for this check.
    # `mypy tuner/spec` cannot follow the algorithms/ -> tuner.algorithms mapping
    # (scripts/typecheck.sh can), hence the ignore that is unused there.
    from tuner.algorithms import (  # type: ignore[import-not-found, unused-ignore]
        check_algorithm,
    )

    try:
        check_algorithm(config)
    except InvalidArgumentError as exc:
        errors.add(algorithm_error_loc(exc.field, exc.message, section), exc.message)


def _check_early_stopping(
    config: StudyConfig, section: EarlyStoppingSection, errors: ErrorSink
) -> None:
    """Let the early-stopping registry refuse its name or its settings."""
    from tuner.algorithms import (  # type: ignore[import-not-found, unused-ignore]
        check_early_stopping,
    )

    try:
        check_early_stopping(config)
    except InvalidArgumentError as exc:
        errors.add(early_stopping_error_loc(exc.field, exc.message, section), exc.message)


def _field_errors(errors: ErrorSink, source: Source) -> list[FieldError]:
    """Unique errors in document order (by line, for text), with their lines."""
    result = []
    for loc, message in dict.fromkeys(errors.items):
        position = source.position(loc)
        line, column = position if position is not None else (None, None)
        result.append(
            (_order(source.data, loc), FieldError(format_loc(loc), message, line, column))
        )
    result.sort(key=lambda item: (item[1].line or 0, item[1].column or 0, item[0]))
    return [error for _, error in result]


def _order(data: Any, loc: Loc) -> tuple[int, ...]:
    """Sort key of ``loc``: the position of each of its parts in the document."""
    key: list[int] = []
    value = data
    for part in loc:
        if isinstance(value, Mapping) and part in value:
            key.append(list(value).index(part))
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            key.append(part)
            value = value[part]
        else:
            key.append(_MISSING)
            break
    return tuple(key)
