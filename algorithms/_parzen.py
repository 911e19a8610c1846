"""Parzen estimators on the unit cube, the densities TPE compares.

An estimator is a weighted mixture with one component per observation plus a prior
component; each component is a product over parameters of a Gaussian truncated to
``[0, 1]`` (a numeric parameter, continuous or binned, a bin weighing the Gaussian's mass
over it; a discrete parameter's values are bins in index order) or a categorical
distribution (choices of a categorical parameter). The bandwidths follow the TPE of
Watanabe (arXiv:2304.11127) as Optuna ships it: the larger gap to a neighbouring
observation, clipped below by ``1 / min(100, n + 2)``.

Observations and samples are arrays of shape ``(n, n_parameters)`` holding, per parameter,
the unit coordinate (continuous) or the bin index (binned and choices).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri

from tuner.algorithms._cube import UnitCodec
from tuner.space import CategoricalParameter

__all__ = ["Column", "ColumnKind", "ParzenEstimator", "age_weights"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_N_FLAT = 25
"""The newest observations of a group weigh fully; older ones ramp down."""


class ColumnKind(enum.Enum):
    """How a parameter is modelled."""

    CONTINUOUS = "continuous"
    BINNED = "binned"
    CHOICE = "choice"


@dataclass(frozen=True, slots=True)
class Column:
    """One parameter as the estimator sees it."""

    kind: ColumnKind
    codec: UnitCodec

    @classmethod
    def of(cls, codec: UnitCodec) -> Column:
        """The column of a parameter: choices for a categorical one; bins for the other
        grids, a discrete parameter's sorted values in index order (as Optuna's TPE sees
        an ordered list: an integer index, so neighbouring values share evidence)."""
        if codec.size is None:
            return cls(ColumnKind.CONTINUOUS, codec)
        if isinstance(codec.parameter, CategoricalParameter):
            return cls(ColumnKind.CHOICE, codec)
        return cls(ColumnKind.BINNED, codec)


def age_weights(n: int) -> np.ndarray:
    """Weights of ``n`` observations, oldest first: 1 each up to 25, then a ramp from
    ``1/n`` for the oldest to 1 for the 26th newest (Bergstra et al., 2013)."""
    if n <= _N_FLAT:
        return np.ones(n)
    return np.concatenate([np.linspace(1.0 / n, 1.0, num=n - _N_FLAT), np.ones(_N_FLAT)])


def log_gauss_mass(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``log(Phi(b) - Phi(a))`` elementwise for ``a <= b``, accurate in both tails."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    out = np.empty(a.shape)
    left = b <= 0
    right = a >= 0
    central = ~(left | right)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[left] = _log_diff(log_ndtr(b[left]), log_ndtr(a[left]))
        out[right] = _log_diff(log_ndtr(-a[right]), log_ndtr(-b[right]))
        out[central] = np.log1p(np.maximum(-ndtr(a[central]) - ndtr(-b[central]), -1.0))
    return out


def _log_diff(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``log(exp(x) - exp(y))`` for ``x >= y``; ``-inf`` when they are equal."""
    result = x + np.log1p(-np.exp(y - x))
    return np.where(x > y, result, -np.inf)


class ParzenEstimator:
    """A mixture over observations of some parameters, with a prior component.

    Args:
        columns: The parameters modelled.
        observations: Shape ``(n, len(columns))``, oldest first (see the module docs).
        prior_weight: Weight of the prior component relative to an observation's.
    """

    def __init__(
        self, columns: tuple[Column, ...], observations: np.ndarray, prior_weight: float
    ) -> None:
        self._columns = columns
        n = len(observations)
        weights = np.append(age_weights(n), prior_weight) if n else np.ones(1)
        if not weights.sum() > 0:
            weights = np.append(np.zeros(n), 1.0)
        self._weights = weights / weights.sum()
        with np.errstate(divide="ignore"):
            self._log_weights = np.log(self._weights)
        self._kernels: list[tuple[np.ndarray, np.ndarray]] = []
        for j, column in enumerate(columns):
            values = observations[:, j]
            if column.kind is ColumnKind.CHOICE:
                self._kernels.append((_choice_kernels(column, values, prior_weight), values))
            else:
                mus = values
                if column.kind is ColumnKind.BINNED:
                    mus = column.codec.centers(values.astype(np.int64))
                self._kernels.append(_numeric_kernels(mus))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` draws from the mixture, shape ``(size, len(columns))``."""
        components = rng.choice(len(self._weights), p=self._weights, size=size)
        out = np.empty((size, len(self._columns)))
        for j, (column, kernel) in enumerate(zip(self._columns, self._kernels, strict=True)):
            if column.kind is ColumnKind.CHOICE:
                probabilities = np.cumsum(kernel[0][components], axis=1)
                probabilities[:, -1] = 1.0
                out[:, j] = np.sum(probabilities < rng.random(size)[:, None], axis=1)
                continue
            mus, sigmas = kernel[0][components], kernel[1][components]
            low = ndtr(-mus / sigmas)
            high = ndtr((1.0 - mus) / sigmas)
            p = low + rng.random(size) * (high - low)
            u = np.clip(mus + sigmas * ndtri(np.clip(p, 1e-300, 1.0 - 1e-16)), 0.0, 1.0)
            out[:, j] = column.codec.bins(u) if column.kind is ColumnKind.BINNED else u
        return out

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        """The log density (log mass, over bins and choices) at each row of ``x``."""
        total = np.zeros((len(x), len(self._log_weights))) + self._log_weights
        for j, (column, kernel) in enumerate(zip(self._columns, self._kernels, strict=True)):
            if column.kind is ColumnKind.CHOICE:
                with np.errstate(divide="ignore"):
                    total += np.log(kernel[0][:, x[:, j].astype(np.int64)].T)
                continue
            mus, sigmas = kernel
            log_norm = log_gauss_mass(-mus / sigmas, (1.0 - mus) / sigmas)
            if column.kind is ColumnKind.CONTINUOUS:
                z = (x[:, j, None] - mus) / sigmas
                total += -0.5 * z * z - np.log(sigmas) - _LOG_SQRT_2PI - log_norm
            else:
                lower, upper = column.codec.edges(x[:, j].astype(np.int64))
                total += (
                    log_gauss_mass((lower[:, None] - mus) / sigmas, (upper[:, None] - mus) / sigmas)
                    - log_norm
                )
        peak = total.max(axis=1)
        peak[~np.isfinite(peak)] = 0.0
        with np.errstate(divide="ignore"):
            return np.asarray(np.log(np.exp(total - peak[:, None]).sum(axis=1)) + peak)


def _numeric_kernels(mus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres and bandwidths of the observations' Gaussians, the prior's appended."""
    n = len(mus)
    if n == 0:
        return np.array([0.5]), np.array([1.0])
    order = np.argsort(mus, kind="stable")
    padded = np.concatenate([[0.0], mus[order], [1.0]])
    gaps = np.maximum(padded[1:-1] - padded[:-2], padded[2:] - padded[1:-1])
    if n >= 2:
        # The endpoints are no neighbours: the outermost observations take the inner gap.
        gaps[0] = padded[2] - padded[1]
        gaps[-1] = padded[-2] - padded[-3]
    sigmas = np.empty(n)
    sigmas[order] = gaps
    sigmas = np.clip(sigmas, 1.0 / min(100.0, n + 2.0), 1.0)
    return np.append(mus, 0.5), np.append(sigmas, 1.0)


def _choice_kernels(column: Column, indices: np.ndarray, prior_weight: float) -> np.ndarray:
    """Per component, the probability of each choice: mostly its observed choice, with
    the prior's weight spread evenly; the prior component is uniform."""
    size = column.codec.size
    assert size is not None
    n_components = len(indices) + 1
    probabilities = np.full((n_components, size), prior_weight / n_components)
    probabilities[np.arange(len(indices)), indices.astype(np.int64)] += 1.0
    sums = probabilities.sum(axis=1, keepdims=True)
    probabilities = np.where(sums > 0, probabilities / np.where(sums > 0, sums, 1.0), 1.0 / size)
    return probabilities
