"""The Matérn 5/2 kernel: values, and gradients against finite differences."""

from __future__ import annotations

import numpy as np

from tuner.algorithms._gp_kernel import (
    matern52,
    matern52_input_gradient,
    matern52_lengthscale_gradients,
)

RNG = np.random.default_rng(0)
X = RNG.random((7, 3))
LENGTHSCALES = np.array([0.3, 0.7, 1.5])


def test_kernel_is_symmetric_positive_definite_with_the_variance_on_the_diagonal() -> None:
    kernel = matern52(X, X, LENGTHSCALES, 2.0)
    assert np.allclose(kernel, kernel.T)
    assert np.allclose(np.diag(kernel), 2.0)
    assert np.linalg.eigvalsh(kernel).min() > 0


def test_kernel_decays_with_distance() -> None:
    origin = np.zeros((1, 1))
    values = [matern52(origin, np.array([[r]]), np.ones(1), 1.0)[0, 0] for r in (0, 0.5, 1, 3)]
    assert values == sorted(values, reverse=True)
    # The closed form at r = 1: (1 + √5 + 5/3) exp(-√5).
    assert np.isclose(values[2], (1 + np.sqrt(5) + 5 / 3) * np.exp(-np.sqrt(5)))


def test_lengthscale_gradients_match_finite_differences() -> None:
    weights = RNG.normal(size=(7, 7))
    weights = weights + weights.T
    gradient = matern52_lengthscale_gradients(X, weights, LENGTHSCALES, 1.3)
    step = 1e-6
    for j in range(3):
        shifted = LENGTHSCALES.copy()
        shifted[j] *= np.exp(step)
        difference = matern52(X, X, shifted, 1.3) - matern52(X, X, LENGTHSCALES, 1.3)
        assert np.isclose(gradient[j], np.sum(weights * difference) / step, rtol=1e-4)


def test_input_gradient_matches_finite_differences() -> None:
    points = RNG.random((4, 3))
    kernel, gradient = matern52_input_gradient(points, X, LENGTHSCALES, 0.8)
    assert np.allclose(kernel, matern52(points, X, LENGTHSCALES, 0.8))
    step = 1e-7
    for j in range(3):
        shifted = points.copy()
        shifted[:, j] += step
        numeric = (matern52(shifted, X, LENGTHSCALES, 0.8) - kernel) / step
        assert np.allclose(gradient[:, :, j], numeric, atol=1e-5)
