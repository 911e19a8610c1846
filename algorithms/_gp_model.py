"""A Gaussian process regressor on the unit cube: fitting, prediction, fantasies.

Zero prior mean (the targets are standardised first), Matérn 5/2 ARD kernel, Gaussian
noise with a floor. Hyperparameters maximise the log marginal likelihood plus log priors
(L-BFGS-B with analytic gradients, from fixed starting points or from a given earlier fit:
the caller picks that fit by the data alone, so a fit never depends on what was fitted last).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.linalg
import scipy.optimize

from tuner.algorithms._gp_kernel import (
    matern52,
    matern52_input_gradient,
    matern52_lengthscale_gradients,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["GaussianProcess", "Hyperparameters", "fit_hyperparameters", "log_posterior"]

NOISE_FLOOR = 1e-6
"""Smallest noise variance, in units of the standardised targets."""
_LOG_LENGTHSCALE_BOUNDS = (math.log(5e-3), math.log(1e2))
_LOG_VARIANCE_BOUNDS = (math.log(5e-2), math.log(2e1))
_LOG_NOISE_BOUNDS = (math.log(NOISE_FLOOR), math.log(1.0))
_LENGTHSCALE_PRIOR_SD = 1.0
_VARIANCE_PRIOR_SD = 1.0
_NOISE_PRIOR_MEAN = math.log(1e-4)
_NOISE_PRIOR_SD = 3.0
_JITTERS = (0.0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2)


@dataclass(frozen=True, slots=True)
class Hyperparameters:
    """Kernel and noise hyperparameters."""

    lengthscales: NDArray[np.float64]
    variance: float
    noise: float

    def as_vector(self) -> NDArray[np.float64]:
        """``log`` of lengthscales, variance and noise, in that order."""
        return np.concatenate(
            [np.log(self.lengthscales), [math.log(self.variance), math.log(self.noise)]]
        )

    @classmethod
    def from_vector(cls, theta: NDArray[np.float64]) -> Hyperparameters:
        """The inverse of :meth:`as_vector`."""
        return cls(np.exp(theta[:-2]), math.exp(theta[-2]), math.exp(theta[-1]))


def _lengthscale_prior_mean(n_dims: int) -> float:
    # Log-normal prior with a median growing as sqrt(d), as Hvarfner et al. 2024 ("Vanilla
    # Bayesian optimization performs great in high dimensions"), but centred at 0.61 sqrt(d),
    # not their 4.1 sqrt(d) (with sd 1, not sqrt(3)): theirs is built for d >= 25 with most
    # coordinates irrelevant. At d = 5 it let the ill-conditioned ellipsoid (BBOB f2) fit
    # lengthscales of 10-100 on coordinates that still mattered, so those stuck at a bound;
    # the mean log10 regret of bench/gp_quick.py (f1 f2 f8 f15 f21) went 0.81 -> 0.27.
    return 0.5 * math.log(n_dims) - 0.5


def cholesky(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """The lower Cholesky factor, adding diagonal jitter when the matrix is not quite PD."""
    scale = float(np.mean(np.diag(matrix))) or 1.0
    for jitter in _JITTERS:
        try:
            lower = np.linalg.cholesky(matrix + jitter * scale * np.eye(len(matrix)))
            return np.asarray(lower, dtype=np.float64)
        except np.linalg.LinAlgError:
            continue
    raise np.linalg.LinAlgError("the kernel matrix is not positive definite, even with jitter")


def log_posterior(
    theta: NDArray[np.float64], x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[float, NDArray[np.float64]]:
    """Log marginal likelihood plus log priors, and its gradient in ``theta``.

    Args:
        theta: :meth:`Hyperparameters.as_vector`.
        x: Training points, ``(n, d)``.
        y: Training targets, ``(n,)``.
    """
    n, d = x.shape
    hyper = Hyperparameters.from_vector(theta)
    kernel = matern52(x, x, hyper.lengthscales, hyper.variance)
    lower = cholesky(kernel + hyper.noise * np.eye(n))
    alpha = scipy.linalg.cho_solve((lower, True), y)
    inverse = scipy.linalg.cho_solve((lower, True), np.eye(n))
    value = (
        -0.5 * float(y @ alpha)
        - float(np.sum(np.log(np.diag(lower))))
        - 0.5 * n * math.log(2 * math.pi)
    )
    weights = np.outer(alpha, alpha) - inverse
    gradient = np.empty_like(theta)
    gradient[:d] = 0.5 * matern52_lengthscale_gradients(
        x, weights, hyper.lengthscales, hyper.variance
    )
    gradient[d] = 0.5 * float(np.sum(weights * kernel))
    gradient[d + 1] = 0.5 * hyper.noise * float(np.trace(weights))

    prior_mean = _lengthscale_prior_mean(d)
    log_lengthscales = theta[:d]
    value -= 0.5 * float(np.sum((log_lengthscales - prior_mean) ** 2)) / _LENGTHSCALE_PRIOR_SD**2
    gradient[:d] -= (log_lengthscales - prior_mean) / _LENGTHSCALE_PRIOR_SD**2
    value -= 0.5 * theta[d] ** 2 / _VARIANCE_PRIOR_SD**2
    gradient[d] -= theta[d] / _VARIANCE_PRIOR_SD**2
    value -= 0.5 * (theta[d + 1] - _NOISE_PRIOR_MEAN) ** 2 / _NOISE_PRIOR_SD**2
    gradient[d + 1] -= (theta[d + 1] - _NOISE_PRIOR_MEAN) / _NOISE_PRIOR_SD**2
    return value, gradient


def _starts(n_dims: int) -> list[NDArray[np.float64]]:
    prior_mean = _lengthscale_prior_mean(n_dims)
    return [
        np.concatenate([np.full(n_dims, log_lengthscale), [0.0, math.log(1e-3)]])
        for log_lengthscale in (prior_mean - 1.5, prior_mean - 0.5)
    ]


def fit_hyperparameters(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    *,
    start: Hyperparameters | None = None,
    max_iterations: int = 200,
) -> Hyperparameters:
    """The hyperparameters of highest posterior density, from a few fixed starts or one given.

    Args:
        x: Training points in the unit cube, ``(n, d)``.
        y: Standardised targets, ``(n,)``.
        start: Start from these alone (a fit on similar data converges in a few steps);
            None starts from fixed points.
        max_iterations: L-BFGS-B iterations per start.
    """
    d = x.shape[1]
    bounds = [_LOG_LENGTHSCALE_BOUNDS] * d + [_LOG_VARIANCE_BOUNDS, _LOG_NOISE_BOUNDS]

    def objective(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        try:
            value, gradient = log_posterior(theta, x, y)
        except np.linalg.LinAlgError:
            return 1e10, np.zeros_like(theta)
        return -value, -gradient

    starts = _starts(d) if start is None else [start.as_vector()]
    best_theta, best_value = None, math.inf
    for theta in starts:
        result = scipy.optimize.minimize(
            objective,
            np.clip(theta, [b[0] for b in bounds], [b[1] for b in bounds]),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iterations},
        )
        if math.isfinite(result.fun) and result.fun < best_value:
            best_theta, best_value = result.x, float(result.fun)
    if best_theta is None:
        best_theta = _starts(d)[0]
    return Hyperparameters.from_vector(np.asarray(best_theta))


class GaussianProcess:
    """The posterior of a zero-mean process given training data and hyperparameters.

    Args:
        x: Training points, ``(n, d)``.
        y: Training targets, ``(n,)``.
        hyper: Kernel and noise hyperparameters.
    """

    def __init__(
        self, x: NDArray[np.float64], y: NDArray[np.float64], hyper: Hyperparameters
    ) -> None:
        self.x = x
        self.y = y
        self.hyper = hyper
        kernel = matern52(x, x, hyper.lengthscales, hyper.variance)
        self._lower = cholesky(kernel + hyper.noise * np.eye(len(x)))
        self._refresh()

    def _refresh(self) -> None:
        self._alpha = scipy.linalg.cho_solve((self._lower, True), self.y)
        self._inverse: NDArray[np.float64] | None = None

    def _kernel_inverse(self) -> NDArray[np.float64]:
        if self._inverse is None:
            self._inverse = scipy.linalg.cho_solve((self._lower, True), np.eye(len(self.x)))
        return self._inverse

    def predict(self, points: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
        """Posterior mean and variance (of the latent function) at ``points``, ``(m, d)``."""
        cross = matern52(points, self.x, self.hyper.lengthscales, self.hyper.variance)
        mean = cross @ self._alpha
        explained = np.sum((cross @ self._kernel_inverse()) * cross, axis=1)
        return mean, np.maximum(self.hyper.variance - explained, 1e-12)

    def predict_with_gradient(self, points: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
        """Mean, variance, and their gradients in ``points`` (``(m, d)`` each)."""
        cross, d_cross = matern52_input_gradient(
            points, self.x, self.hyper.lengthscales, self.hyper.variance
        )
        solved = cross @ self._kernel_inverse()
        mean = cross @ self._alpha
        variance = self.hyper.variance - np.sum(solved * cross, axis=1)
        d_mean = np.einsum("mnd,n->md", d_cross, self._alpha)
        d_variance = -2.0 * np.einsum("mnd,mn->md", d_cross, solved)
        return mean, np.maximum(variance, 1e-12), d_mean, d_variance

    def condition_on(self, point: NDArray[np.float64], value: float) -> None:
        """Add one observation in ``O(n²)``, keeping the hyperparameters (a fantasy)."""
        cross = matern52(point[None, :], self.x, self.hyper.lengthscales, self.hyper.variance)[0]
        row = scipy.linalg.solve_triangular(self._lower, cross, lower=True)
        corner = self.hyper.variance + self.hyper.noise - float(row @ row)
        corner = math.sqrt(max(corner, NOISE_FLOOR * self.hyper.variance))
        n = len(self.x)
        lower = np.zeros((n + 1, n + 1))
        lower[:n, :n] = self._lower
        lower[n, :n] = row
        lower[n, n] = corner
        self._lower = lower
        self.x = np.vstack([self.x, point])
        self.y = np.append(self.y, value)
        self._refresh()
