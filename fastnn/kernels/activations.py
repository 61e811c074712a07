"""Activation kernels, in place, their derivatives written from the outputs, and dropout."""

import numpy as np

from fastnn._codes import (
    BATCH_COUNT,
    BINARY_LOG_LOSS,
    DROPOUT,
    DROPOUT_SEED,
    LEAKY_RELU,
    LEAKY_SLOPE,
    LOG_LOSS,
    LOGISTIC,
    POISSON,
    RELU,
    TANH,
)
from fastnn._jit import jit


@jit(internal=True)
def hidden_value(z, code):
    """One hidden activation value. relu keeps NaN as NaN, as ``np.maximum`` does."""
    if code == LOGISTIC:
        return 1.0 / (1.0 + np.exp(-z))
    if code == TANH:
        return np.tanh(z)
    if code == RELU:
        return z if not z < 0 else 0.0
    if code == LEAKY_RELU:
        return z * LEAKY_SLOPE if z < 0 else z
    return z


@jit(internal=True)
def derivative_value(a, d, code):
    """``d * f'(z)`` from ``a = f(z)``, in the reference's order of operations."""
    if code == LOGISTIC:
        return d * a * (1 - a)
    if code == TANH:
        return d * (1 - a**2)
    if code == RELU:
        return 0.0 if a == 0 else d
    if code == LEAKY_RELU:
        return d * LEAKY_SLOPE if a < 0 else d
    return d


@jit
def activate(Z, code):
    """Apply a hidden activation to the 2-D array ``Z`` in place."""
    n, m = Z.shape
    for i in range(n):
        for j in range(m):
            Z[i, j] = hidden_value(Z[i, j], code)


@jit(internal=True)
def add_bias_activate(Z, b, code):
    """``Z = f(Z + b)`` in one pass over ``Z`` (bias and hidden activation fused)."""
    n, m = Z.shape
    for i in range(n):
        for j in range(m):
            Z[i, j] = hidden_value(Z[i, j] + b[j], code)


@jit
def activation_derivative(A, delta, code):
    """Multiply ``delta`` in place by ``f'(Z)``, written from ``A = f(Z)``."""
    n, m = A.shape
    for i in range(n):
        for j in range(m):
            delta[i, j] = derivative_value(A[i, j], delta[i, j], code)


@jit(internal=True)
def _mix(z):
    """SplitMix64's finaliser (uint64, wrapping)."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@jit(internal=True)
def _row_key(scalars, layer, row):
    """The hash of ``(seed, batch, layer, row)``; a unit's number mixes in its index."""
    _, counts = scalars
    h = _mix(np.uint64(counts[DROPOUT_SEED]) ^ np.uint64(counts[BATCH_COUNT]))
    return _mix(h ^ ((np.uint64(layer) << np.uint64(32)) | np.uint64(row)))


@jit(internal=True)
def _uniform(key, unit):
    return np.float64(_mix(key ^ np.uint64(unit)) >> np.uint64(11)) * 2.0**-53


@jit
def dropout_rate(scalars, layer):
    """The dropout rate of hidden layer ``layer`` (0 where none was given)."""
    hyper = scalars[0]
    slot = DROPOUT + layer
    return hyper[slot] if slot < hyper.shape[0] else 0.0


@jit
def dropout(A, p, scalars, layer, row0=0):
    """Inverted dropout in place, with the reference's counter-based generator.

    ``A`` holds the batch's rows ``row0, row0 + 1, ...`` (a worker's block of rows)."""
    n, m = A.shape
    for i in range(n):
        key = _row_key(scalars, layer, row0 + i)
        for j in range(m):
            keep = 1.0 if _uniform(key, j) >= p else 0.0
            # Multiplied by the mask, as the reference does: a dropped inf stays NaN.
            A[i, j] = A[i, j] * keep / (1 - p)


@jit
def dropout_derivative(A, delta, code, p, scalars, layer, row0=0):
    """``activation_derivative`` through dropout (masks recomputed, not stored)."""
    n, m = A.shape
    for i in range(n):
        key = _row_key(scalars, layer, row0 + i)
        for j in range(m):
            keep = 1.0 if _uniform(key, j) >= p else 0.0
            d = derivative_value(A[i, j] * (1 - p), delta[i, j], code)
            delta[i, j] = d * keep / (1 - p)


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
