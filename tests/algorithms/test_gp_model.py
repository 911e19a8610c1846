"""The Gaussian process: interpolation, variance, likelihood gradients, fitting, fantasies."""

from __future__ import annotations

import numpy as np
import scipy.optimize

from tuner.algorithms._gp_model import (
    GaussianProcess,
    Hyperparameters,
    cholesky,
    fit_hyperparameters,
    log_posterior,
)

RNG = np.random.default_rng(1)
X = RNG.random((20, 2))
Y = np.sin(6 * X[:, 0]) + X[:, 1] ** 2
Y = (Y - Y.mean()) / Y.std()
NOISELESS = Hyperparameters(np.array([0.3, 0.5]), 1.0, 1e-6)


def test_posterior_mean_interpolates_noiseless_data() -> None:
    mean, variance = GaussianProcess(X, Y, NOISELESS).predict(X)
    assert np.allclose(mean, Y, atol=1e-3)
    assert variance.max() < 1e-4


def test_variance_shrinks_near_data_and_reverts_far_away() -> None:
    gp = GaussianProcess(X[:1], Y[:1], NOISELESS)
    distances = np.array([0.0, 0.05, 0.2, 5.0])
    points = X[0] + distances[:, None] * np.array([1.0, 0.0])
    _, variance = gp.predict(points)
    assert np.all(np.diff(variance) > 0)
    assert np.isclose(variance[-1], 1.0, atol=1e-6)


def test_log_posterior_gradient_matches_finite_differences() -> None:
    theta = np.array([-1.0, -0.3, 0.2, np.log(1e-2)])
    _, gradient = log_posterior(theta, X, Y)
    numeric = scipy.optimize.approx_fprime(theta, lambda t: log_posterior(t, X, Y)[0], 1e-6)
    assert np.allclose(gradient, numeric, rtol=1e-3, atol=1e-3)


def test_fitting_improves_the_marginal_likelihood() -> None:
    start = np.array([0.0, 0.0, 0.0, np.log(1e-1)])
    fitted = fit_hyperparameters(X, Y)
    assert log_posterior(fitted.as_vector(), X, Y)[0] > log_posterior(start, X, Y)[0]
    assert fitted.noise >= 1e-6


def test_predict_with_gradient_matches_predict_and_finite_differences() -> None:
    gp = GaussianProcess(X, Y, fit_hyperparameters(X, Y))
    points = RNG.random((3, 2))
    mean, variance, d_mean, d_variance = gp.predict_with_gradient(points)
    plain_mean, plain_variance = gp.predict(points)
    assert np.allclose(mean, plain_mean) and np.allclose(variance, plain_variance)
    step = np.array([1e-5, 0.0])
    mean_up, variance_up = gp.predict(points + step)
    mean_down, variance_down = gp.predict(points - step)
    assert np.allclose(d_mean[:, 0], (mean_up - mean_down) / 2e-5, rtol=1e-3, atol=1e-4)
    assert np.allclose(d_variance[:, 0], (variance_up - variance_down) / 2e-5, rtol=1e-2, atol=1e-4)


def test_conditioning_on_a_fantasy_equals_refitting_with_it() -> None:
    hyper = Hyperparameters(np.array([0.3, 0.5]), 1.0, 1e-3)
    gp = GaussianProcess(X[:10], Y[:10], hyper)
    gp.condition_on(X[10], 0.5)
    direct = GaussianProcess(X[:11], np.append(Y[:10], 0.5), hyper)
    points = RNG.random((5, 2))
    for updated, expected in zip(gp.predict(points), direct.predict(points), strict=True):
        assert np.allclose(updated, expected)


def test_duplicate_points_are_factorised_with_jitter() -> None:
    x = np.vstack([X[:3], X[:3]])
    gp = GaussianProcess(x, np.concatenate([Y[:3], Y[:3] + 0.1]), NOISELESS)
    assert np.all(np.isfinite(gp.predict(RNG.random((4, 2)))[0]))
    singular = np.ones((3, 3))
    lower = cholesky(singular)
    assert np.allclose(lower @ lower.T, singular, atol=1e-3)
