"""The Matérn 5/2 kernel with one lengthscale per coordinate (ARD), and its gradients.

``k(x, x') = s² (1 + √5 r + 5/3 r²) exp(-√5 r)`` with ``r² = Σ_j (x_j - x'_j)² / l_j²``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["matern52", "matern52_input_gradient", "matern52_lengthscale_gradients"]

_SQRT5 = math.sqrt(5.0)


def _scaled_distance(
    a: NDArray[np.float64], b: NDArray[np.float64], lengthscales: NDArray[np.float64]
) -> NDArray[np.float64]:
    a_scaled, b_scaled = a / lengthscales, b / lengthscales
    squared = (
        np.sum(a_scaled**2, axis=1)[:, None]
        + np.sum(b_scaled**2, axis=1)[None, :]
        - 2.0 * a_scaled @ b_scaled.T
    )
    return np.asarray(np.sqrt(np.maximum(squared, 0.0)))


def matern52(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    lengthscales: NDArray[np.float64],
    variance: float,
) -> NDArray[np.float64]:
    """The kernel matrix between the rows of ``a`` and ``b``.

    Args:
        a: Points, shape ``(n, d)``.
        b: Points, shape ``(m, d)``.
        lengthscales: Shape ``(d,)``, positive.
        variance: The signal variance ``s²``.

    Returns:
        Shape ``(n, m)``.
    """
    r = _SQRT5 * _scaled_distance(a, b, lengthscales)
    return variance * (1.0 + r + r * r / 3.0) * np.exp(-r)


def _radial_factor(r: NDArray[np.float64], variance: float) -> NDArray[np.float64]:
    """``-dk/dr / r`` in the units of ``r = √5 · distance``: ``5/3 s² (1 + r) exp(-r)``."""
    return variance * (5.0 / 3.0) * (1.0 + r) * np.exp(-r)


def matern52_lengthscale_gradients(
    x: NDArray[np.float64],
    weights: NDArray[np.float64],
    lengthscales: NDArray[np.float64],
    variance: float,
) -> NDArray[np.float64]:
    """``Σ_ab W_ab ∂K_ab/∂log l_j`` for each ``j``, in ``O(n² d)`` without an ``(n, n, d)`` array.

    Args:
        x: Training points, shape ``(n, d)``.
        weights: A symmetric ``(n, n)`` matrix ``W``.
        lengthscales: Shape ``(d,)``.
        variance: The signal variance.

    Returns:
        Shape ``(d,)``.
    """
    r = _SQRT5 * _scaled_distance(x, x, lengthscales)
    m = weights * _radial_factor(r, variance)
    # ∂K_ab/∂log l_j = G_ab (x_aj - x_bj)² / l_j², and Σ_ab M_ab (x_aj - x_bj)² expands to
    # 2 Σ_a (Σ_b M_ab) x_aj² - 2 x_j^T M x_j for a symmetric M.
    squares = 2.0 * (m.sum(axis=1) @ x**2) - 2.0 * np.sum(x * (m @ x), axis=0)
    return np.asarray(squares / lengthscales**2)


def matern52_input_gradient(
    points: NDArray[np.float64],
    x: NDArray[np.float64],
    lengthscales: NDArray[np.float64],
    variance: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The kernel between ``points`` and ``x`` and its gradient in ``points``.

    Args:
        points: Shape ``(m, d)``.
        x: Shape ``(n, d)``.
        lengthscales: Shape ``(d,)``.
        variance: The signal variance.

    Returns:
        ``K`` of shape ``(m, n)`` and ``∂K_ab/∂points_aj`` of shape ``(m, n, d)``.
    """
    r = _SQRT5 * _scaled_distance(points, x, lengthscales)
    kernel = variance * (1.0 + r + r * r / 3.0) * np.exp(-r)
    factor = _radial_factor(r, variance)
    differences = (points[:, None, :] - x[None, :, :]) / lengthscales**2
    return kernel, -factor[:, :, None] * differences
