"""Loss kernels: the data term of each output/loss pair, and the L2 penalty."""

import numpy as np

from fastnn._codes import (
    ABSOLUTE_ERROR,
    BINARY_LOG_LOSS,
    HUBER,
    HUBER_DELTA,
    POISSON,
    SQUARED_ERROR,
)
from fastnn._jit import jit


@jit(internal=True)
def _xlogy(x, y):
    """``x * log(y)``, and 0 where ``x == 0`` (as ``scipy.special.xlogy``)."""
    if x == 0:
        return 0.0
    return x * np.log(y)


@jit(internal=True)
def loss_sum(A_out, Y, sw, loss):
    """The data term's weighted sum over samples and outputs, before the averaging of
    :func:`mean_loss`: rows may be summed block by block. Accumulates in float64;
    probabilities are clipped to ``[eps, 1 - eps]`` before the logarithm."""
    n, m = A_out.shape
    eps = np.finfo(A_out.dtype).eps
    total = 0.0
    for j in range(m):
        column = 0.0
        for i in range(n):
            a = A_out[i, j]
            y = Y[i, j]
            if loss == SQUARED_ERROR:
                term = (y - a) ** 2
            elif loss == POISSON:
                term = _xlogy(y, y / a) - y + a
            elif loss == HUBER:
                r = abs(a - y)
                term = 0.5 * r**2 if r <= HUBER_DELTA else HUBER_DELTA * (r - 0.5 * HUBER_DELTA)
            elif loss == ABSOLUTE_ERROR:
                term = abs(a - y)
            else:
                p = min(max(a, eps), 1 - eps)
                term = -_xlogy(y, p)
                if loss == BINARY_LOG_LOSS:
                    term -= _xlogy(1 - y, 1 - p)
            column += sw[i] * term
        total += column
    return total


@jit(inline=True)
def weight_sum(sw):
    """The samples' total weight ``sum(sw)``, added in order in float64: the
    denominator of every mean loss and gradient."""
    total = 0.0
    for i in range(sw.shape[0]):
        total += sw[i]
    return total


@jit(internal=True)
def mean_loss(total, sw_sum, n_outputs, loss):
    """The data term from :func:`loss_sum`'s ``total``: divided by the samples' total
    weight (and, for squared error, halved and averaged over the outputs)."""
    if loss == SQUARED_ERROR:
        return 0.5 * (total / sw_sum) / n_outputs
    return total / sw_sum


@jit
def output_loss(A_out, Y, sw, loss):
    """The data term of the loss, averaged over samples with weights ``sw``.

    Same formulas as :func:`fastnn.reference.output_loss`.
    """
    return mean_loss(loss_sum(A_out, Y, sw, loss), weight_sum(sw), A_out.shape[1], loss)


@jit
def output_delta(A_out, Y, sw, loss, delta):
    """Write into ``delta`` the weighted gradient of the loss with respect to the output
    layer's ``Z``: the residual ``A - Y`` (clipped for Huber, its sign for absolute error)
    times each sample's weight."""
    n, m = A_out.shape
    for i in range(n):
        for j in range(m):
            r = A_out[i, j] - Y[i, j]
            if loss == HUBER:
                r = min(max(r, -HUBER_DELTA), HUBER_DELTA)
            elif loss == ABSOLUTE_ERROR:
                r = np.sign(r)
            delta[i, j] = r * sw[i]


@jit
def penalty(theta, sizes, alpha, sw_sum):
    """The L2 term ``alpha / 2 * sum(W**2) / sum(sw)`` over the weights of ``theta``."""
    n_weights = 0
    for i in range(sizes.shape[0] - 1):
        n_weights += sizes[i] * sizes[i + 1]
    W = theta[:n_weights]
    return 0.5 * alpha * np.dot(W, W) / sw_sum  # BLAS dot, as the reference's
