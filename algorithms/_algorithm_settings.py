"""Each algorithm's settings, named as in Katib.

They live apart from the designers so the registry can validate a study's settings
without importing a designer (and what it imports, such as scipy).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tuner.algorithms._settings import Settings, setting

__all__ = [
    "AcquisitionFunction",
    "AcquisitionOptimizer",
    "BaseEstimator",
    "BayesianOptimizationSettings",
    "CmaEsSettings",
    "GridSettings",
    "HyperbandSettings",
    "MultivariateTpeSettings",
    "RandomSettings",
    "RestartStrategy",
    "SobolSettings",
    "TpeSettings",
]

_RANDOM_STATE_HELP = "Seed of the algorithm (Katib's name); when given it overrides the study seed."


@dataclass(frozen=True, slots=True, kw_only=True)
class RandomSettings(Settings):
    """Settings of random search (``random``).

    Examples:
        >>> RandomSettings(random_state=42).random_state
        42
    """

    random_state: int | None = setting(None, ge=0, description=_RANDOM_STATE_HELP)


@dataclass(frozen=True, slots=True, kw_only=True)
class GridSettings(Settings):
    """Settings of grid search (``grid``).

    ``random_state`` is accepted so Katib experiments that set it run unchanged, and is
    otherwise ignored: the grid is walked in one fixed order.
    """

    random_state: int | None = setting(
        None,
        ge=0,
        description="Accepted for Katib compatibility and ignored: the grid order is fixed.",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class HyperbandSettings(Settings):
    """Settings of Hyperband with asynchronous successive halving (``hyperband``).

    Named as Katib's ``hyperband`` (``resource_name``, ``eta``, ``r_l``); ``resource_name``
    is required, and the designer checks it against the search space.

    Examples:
        >>> HyperbandSettings(resource_name="epochs").eta
        3
    """

    resource_name: str | None = setting(
        None,
        description=(
            "Required: the int or double parameter that is a trial's budget, such as epochs; "
            "its min is the smallest resource a trial gets, its max the largest."
        ),
    )
    eta: int = setting(
        3, ge=2, description="Keep the best 1/eta of each rung; resources grow by eta per rung."
    )
    r_l: float | None = setting(
        None,
        gt=0,
        description=(
            "The largest resource (Katib's name), within the resource parameter's range; "
            "default: its max."
        ),
    )
    n_brackets: int | None = setting(
        None,
        ge=1,
        description=(
            "How many Hyperband brackets to run, the most aggressive first (1 is plain "
            "asynchronous successive halving); default: all of them."
        ),
    )
    random_state: int | None = setting(None, ge=0, description=_RANDOM_STATE_HELP)


class BaseEstimator(enum.Enum):
    """The surrogate model of ``bayesianoptimization`` (scikit-optimize's ``base_estimator``)."""

    GP = "GP"
    """A Gaussian process; scikit-optimize's forests (RF, ET, GBRT) are not offered."""


class AcquisitionFunction(enum.Enum):
    """What ``bayesianoptimization`` maximises to pick the next point (``acq_func``)."""

    EI = "EI"
    """Expected improvement, computed in logs so it never vanishes."""
    LCB = "LCB"
    """Lower confidence bound ``mean - 1.96 * std`` (of the minimised objective)."""
    GP_HEDGE = "gp_hedge"
    """scikit-optimize's default, accepted for Katib experiments: runs as ``EI``."""


class AcquisitionOptimizer(enum.Enum):
    """How ``bayesianoptimization`` searches the acquisition function (``acq_optimizer``)."""

    AUTO = "auto"
    """As ``lbfgs``."""
    SAMPLING = "sampling"
    """Score random and Sobol candidates only."""
    LBFGS = "lbfgs"
    """Score candidates, then refine the best few with L-BFGS-B."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BayesianOptimizationSettings(Settings):
    """Settings of Gaussian-process Bayesian optimisation (``bayesianoptimization``).

    Named as scikit-optimize's ``Optimizer``, which Katib uses for this algorithm.

    Examples:
        >>> settings = BayesianOptimizationSettings(acq_func=AcquisitionFunction.LCB)
        >>> settings.base_estimator, settings.n_initial_points
        (<BaseEstimator.GP: 'GP'>, None)
    """

    base_estimator: BaseEstimator = setting(
        BaseEstimator.GP, description="The surrogate model: only GP (a Gaussian process)."
    )
    n_initial_points: int | None = setting(
        None,
        ge=1,
        description=(
            "Trials drawn from a scrambled Sobol sequence before the model is used; "
            "default: the number of parameters + 5, at most 20."
        ),
    )
    acq_func: AcquisitionFunction = setting(
        AcquisitionFunction.EI,
        description="Acquisition function: EI (log expected improvement) or LCB; gp_hedge runs EI.",
    )
    acq_optimizer: AcquisitionOptimizer = setting(
        AcquisitionOptimizer.AUTO,
        description=(
            "sampling scores candidate points; lbfgs (and auto) also refines the best few "
            "with L-BFGS-B."
        ),
    )
    random_state: int | None = setting(None, ge=0, description=_RANDOM_STATE_HELP)


@dataclass(frozen=True, slots=True, kw_only=True)
class MultivariateTpeSettings(Settings):
    """Settings of multivariate TPE (``multivariate-tpe``), named as in Katib.

    ``gamma`` is the fraction of ranked trials in the good group, capped at 25 trials (as
    Optuna; Katib's hyperopt takes ``gamma * sqrt(n)`` instead).

    Examples:
        >>> MultivariateTpeSettings().n_EI_candidates
        24
    """

    gamma: float = setting(
        0.1,
        gt=0,
        le=1,
        description="Fraction of the ranked trials that make the good group (at most 25).",
    )
    prior_weight: float = setting(
        1.0, ge=0, description="Weight of the prior (uniform-ish) component of each density."
    )
    n_EI_candidates: int = setting(  # Katib spells it so
        24, ge=1, description="Candidates drawn from the good density per suggestion."
    )
    n_startup_trials: int = setting(
        10, ge=0, description="Ranked trials needed before TPE is used; until then, random."
    )
    constant_liar: bool = setting(
        True,
        description="Count active trials as bad ones, so parallel suggestions spread out.",
    )
    random_state: int | None = setting(None, ge=0, description=_RANDOM_STATE_HELP)


@dataclass(frozen=True, slots=True, kw_only=True)
class TpeSettings(MultivariateTpeSettings):
    """Settings of TPE (``tpe``): those of ``multivariate-tpe`` and ``multivariate``.

    ``tpe`` models the parameters jointly by default, as Optuna's ``TPESampler`` does since
    Optuna 5; ``multivariate=false`` models each alone, as Katib's hyperopt-based ``tpe``.

    Examples:
        >>> TpeSettings(multivariate=False).gamma
        0.1
    """

    multivariate: bool = setting(
        True, description="Model the parameters jointly; false: each parameter alone."
    )


class RestartStrategy(enum.Enum):
    """What CMA-ES does when it has converged (``restart_strategy``)."""

    NONE = "none"
    """Keep sampling around the converged point."""
    IPOP = "ipop"
    """Restart from a random mean with twice the population (Auger and Hansen, 2005)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CmaEsSettings(Settings):
    """Settings of CMA-ES (``cmaes``), named as Katib and Optuna name them.

    Examples:
        >>> CmaEsSettings(sigma0=0.3).restart_strategy
        <RestartStrategy.IPOP: 'ipop'>
    """

    sigma0: float | None = setting(
        None,
        gt=0,
        le=1,
        description="Initial step size, as a fraction of each parameter's range; default 1/6.",
    )
    population_size: int | None = setting(
        None, ge=2, description="Points per generation; default 4 + 3 ln(number of parameters)."
    )
    restart_strategy: RestartStrategy = setting(
        RestartStrategy.IPOP, description="none, or ipop: restart with a doubled population."
    )
    random_state: int | None = setting(None, ge=0, description=_RANDOM_STATE_HELP)


@dataclass(frozen=True, slots=True, kw_only=True)
class SobolSettings(Settings):
    """Settings of the Sobol sequence (``sobol``).

    Examples:
        >>> SobolSettings().scramble
        True
    """

    scramble: bool = setting(
        True, description="Scramble the sequence (Owen scrambling, seeded); false: plain Sobol."
    )
    random_state: int | None = setting(None, ge=0, description=_RANDOM_STATE_HELP)
