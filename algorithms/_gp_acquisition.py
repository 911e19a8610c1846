"""Acquisition functions (log expected improvement, lower confidence bound) and their search.

Everything minimises: the designer negates maximised objectives before they get here.
The search scores many candidates (scrambled Sobol points, and perturbations of the best
observed points), then refines the best few with L-BFGS-B in the coordinates that are
continuous or nearly so, and returns every candidate snapped to the space, best first.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np
import scipy.optimize
import scipy.special
from scipy.stats import qmc

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tuner.algorithms._gp_encoding import Encoder
    from tuner.algorithms._gp_model import GaussianProcess

__all__ = ["log_expected_improvement", "rank_candidates"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_SQRT_HALF_PI = math.sqrt(math.pi / 2)


def _log_h(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log(φ(z) + z Φ(z))`` without underflow or cancellation (Ament et al. 2023)."""
    out = np.empty_like(z)
    upper = z > -1.0
    zu = z[upper]
    out[upper] = np.log(np.exp(-0.5 * zu**2 - _LOG_SQRT_2PI) + zu * scipy.special.ndtr(zu))
    middle = (z <= -1.0) & (z > -1e3)
    zm = z[middle]
    # φ(z) + zΦ(z) = φ(z) (1 - √(π/2) |z| erfcx(|z|/√2)), and the bracket is in (0, 1).
    bracket = -np.expm1(np.log(_SQRT_HALF_PI * -zm * scipy.special.erfcx(-zm / math.sqrt(2))))
    out[middle] = -0.5 * zm**2 - _LOG_SQRT_2PI + np.log(np.maximum(bracket, 1e-300))
    lower = z <= -1e3
    zl = z[lower]
    out[lower] = -0.5 * zl**2 - _LOG_SQRT_2PI - 2.0 * np.log(-zl)
    return out


def log_expected_improvement(
    mean: NDArray[np.float64], std: NDArray[np.float64], best: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``log E[max(best - f, 0)]`` for ``f ~ N(mean, std²)``, and its derivatives.

    Returns:
        The value, its derivative in ``mean`` and its derivative in ``std``.
    """
    z = (best - mean) / std
    log_h = _log_h(z)
    # d log h / dz = Φ(z) / h(z), taken in logs so it stays finite far in the tail.
    ratio = np.exp(scipy.special.log_ndtr(z) - log_h)
    return np.log(std) + log_h, -ratio / std, (1.0 - z * ratio) / std


def _score(
    gp: GaussianProcess, points: NDArray[np.float64], best: float, kappa: float | None
) -> NDArray[np.float64]:
    mean, variance = gp.predict(points)
    std = np.sqrt(variance)
    if kappa is not None:
        return -(mean - kappa * std)
    return log_expected_improvement(mean, std, best)[0]


def _score_with_gradient(
    gp: GaussianProcess, points: NDArray[np.float64], best: float, kappa: float | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    mean, variance, d_mean, d_variance = gp.predict_with_gradient(points)
    std = np.sqrt(variance)
    d_std = d_variance / (2.0 * std[:, None])
    if kappa is not None:
        return -(mean - kappa * std), -(d_mean - kappa * d_std)
    value, by_mean, by_std = log_expected_improvement(mean, std, best)
    return value, by_mean[:, None] * d_mean + by_std[:, None] * d_std


def _candidates(
    encoder: Encoder,
    incumbents: NDArray[np.float64],
    rng: np.random.Generator,
    n_candidates: int,
) -> NDArray[np.float64]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Sobol balance needs powers of two
        sobol = qmc.Sobol(encoder.raw_dims(), seed=rng).random(n_candidates)
    global_points = encoder.from_raw(sobol)
    if len(incumbents) == 0:
        return global_points
    # Local candidates: a few coordinates of a good point moved a little (as BoTorch's
    # sample_around_best), which finds the narrow optima that Sobol points miss.
    n_local = n_candidates
    parents = incumbents[rng.integers(len(incumbents), size=n_local)]
    n_dims = encoder.n_dims
    moved = rng.random((n_local, n_dims)) < min(1.0, 4.0 / n_dims)
    moved[np.arange(n_local), rng.integers(n_dims, size=n_local)] = True
    scales = rng.choice([0.01, 0.05, 0.2], size=(n_local, 1))
    local = parents + moved * rng.normal(size=(n_local, n_dims)) * scales
    return np.vstack([global_points, encoder.snap(local)])


def rank_candidates(
    gp: GaussianProcess,
    encoder: Encoder,
    rng: np.random.Generator,
    *,
    best: float,
    incumbents: NDArray[np.float64],
    kappa: float | None = None,
    n_candidates: int = 512,
    n_refined: int = 5,
    grid: NDArray[np.float64] | None = None,
    free_dims: NDArray[np.bool_] | None = None,
) -> NDArray[np.float64]:
    """Snapped candidate points, best acquisition first.

    Args:
        gp: The fitted process (fantasies included).
        encoder: The search space's encoder.
        rng: Draws the candidates.
        best: The incumbent value (smallest target) for expected improvement.
        incumbents: Good points, ``(k, d)``, to sample around.
        kappa: Use the lower confidence bound ``mean - kappa * std`` instead of log EI.
        n_candidates: Sobol candidates (as many again are drawn around the incumbents).
        n_refined: Candidates refined by L-BFGS-B; 0 refines none.
        grid: Every point of a small finite space, scored instead of drawn candidates.
        free_dims: Coordinates L-BFGS-B may move; None moves none.

    Returns:
        Points, ``(m, d)``, sorted by acquisition value, best first.
    """
    if grid is not None:
        scores = _score(gp, grid, best, kappa)
        return grid[np.argsort(-scores, kind="stable")]
    points = _candidates(encoder, incumbents, rng, n_candidates)
    scores = _score(gp, points, best, kappa)
    order = np.argsort(-scores, kind="stable")
    if n_refined > 0 and free_dims is not None and free_dims.any():
        starts = points[order[:n_refined]]
        refined = encoder.snap(_refine(gp, starts, free_dims, best, kappa))
        refined_scores = _score(gp, refined, best, kappa)
        points = np.vstack([refined, points])
        scores = np.concatenate([refined_scores, scores])
        order = np.argsort(-scores, kind="stable")
    return points[order]


def _refine(
    gp: GaussianProcess,
    starts: NDArray[np.float64],
    free_dims: NDArray[np.bool_],
    best: float,
    kappa: float | None,
) -> NDArray[np.float64]:
    """Maximise the acquisition from each start at once (the sum separates by start)."""
    n_starts, n_dims = starts.shape
    lower = np.where(free_dims, 0.0, starts).ravel()
    upper = np.where(free_dims, 1.0, starts).ravel()

    def objective(flat: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        value, gradient = _score_with_gradient(gp, flat.reshape(n_starts, n_dims), best, kappa)
        return -float(np.sum(value)), -(gradient * free_dims).ravel()

    result = scipy.optimize.minimize(
        objective,
        starts.ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(lower, upper, strict=True)),
        options={"maxiter": 50},
    )
    return np.asarray(np.clip(result.x.reshape(n_starts, n_dims), 0.0, 1.0), dtype=np.float64)
