"""Activation kernels, in place, and their derivatives written from the outputs."""

import numpy as np

from fastnn._codes import BINARY_LOG_LOSS, LOG_LOSS, LOGISTIC, POISSON, RELU, TANH
from fastnn._jit import jit


@jit
def _hidden(z, code):
    """One hidden activation value. relu keeps NaN as NaN, as ``np.maximum`` does."""
    if code == LOGISTIC:
        return 1.0 / (1.0 + np.exp(-z))
    if code == TANH:
        return np.tanh(z)
    if code == RELU:
        return z if not z < 0 else 0.0
    return z


@jit
def activate(Z, code):
    """Apply a hidden activation to the 2-D array ``Z`` in place."""
    n, m = Z.shape
    for i in range(n):
        for j in range(m):
            Z[i, j] = _hidden(Z[i, j], code)


@jit
def add_bias_activate(Z, b, code):
    """``Z = f(Z + b)`` in one pass over ``Z`` (bias and hidden activation fused)."""
    n, m = Z.shape
    for i in range(n):
        for j in range(m):
            Z[i, j] = _hidden(Z[i, j] + b[j], code)


@jit
def activation_derivative(A, delta, code):
    """Multiply ``delta`` in place by ``f'(Z)``, written from ``A = f(Z)``."""
    n, m = A.shape
    if code == LOGISTIC:
        for i in range(n):
            for j in range(m):
                delta[i, j] = delta[i, j] * A[i, j] * (1 - A[i, j])
    elif code == TANH:
        for i in range(n):
            for j in range(m):
                delta[i, j] *= 1 - A[i, j] ** 2
    elif code == RELU:
        for i in range(n):
            for j in range(m):
                if A[i, j] == 0:
                    delta[i, j] = 0


@jit
def output_activate(Z, loss):
    """Apply the output activation paired with ``loss`` to ``Z`` in place.

    Softmax subtracts each row's maximum before ``exp``, so it never overflows.
    """
    n, m = Z.shape
    if loss == BINARY_LOG_LOSS:
        for i in range(n):
            for j in range(m):
                Z[i, j] = 1.0 / (1.0 + np.exp(-Z[i, j]))
    elif loss == LOG_LOSS:
        for i in range(n):
            top = Z[i, 0]
            for j in range(1, m):
                if Z[i, j] > top:
                    top = Z[i, j]
            total = 0.0
            for j in range(m):
                Z[i, j] = np.exp(Z[i, j] - top)
                total += Z[i, j]
            for j in range(m):
                Z[i, j] /= total
    elif loss == POISSON:
        for i in range(n):
            for j in range(m):
                Z[i, j] = np.exp(Z[i, j])
