"""The output activations and losses of the numpy engine, in pairs.

Part 2 of the textbook (:mod:`fastnn.reference`, which imports these names): each loss
pairs with the output activation that makes its gradient simple, and
:func:`output_delta` gives that gradient with respect to the output layer's ``Z``.
Twins of :mod:`fastnn.kernels.losses`, of the same names.
"""

import numpy as np
from scipy.special import expit, xlogy

from fastnn import _codes as C


def output_activate(Z, loss):
    """Apply the output activation paired with ``loss`` to ``Z`` in place.

    Notes
    -----
    Softmax subtracts each row's maximum before ``exp``, so it never overflows.
    """
    if loss == C.BINARY_LOG_LOSS:
        expit(Z, out=Z)
    elif loss == C.LOG_LOSS:
        Z -= Z.max(axis=1, keepdims=True)
        np.exp(Z, out=Z)
        Z /= Z.sum(axis=1, keepdims=True)
    elif loss == C.POISSON:
        np.exp(Z, out=Z)


def output_loss(A_out, Y, sw, loss):
    """The data term of the loss, averaged over samples with weights ``sw``.

    - squared error: ``0.5 * mean over outputs of the weighted mean of (Y - A)**2``;
    - binary log-loss: ``-sum over outputs of the mean of Y log A + (1-Y) log(1-A)``;
    - log-loss: ``-sum over classes of the mean of Y log A``;
    - Poisson: ``sum over outputs of the mean of Y log(Y/A) - Y + A``;
    - Huber: ``sum over outputs of the mean of r**2 / 2 if |r| <= d else d (|r| - d/2)``,
      with ``r = A - Y`` and ``d = HUBER_DELTA``;
    - absolute error: ``sum over outputs of the mean of |A - Y|``.

    Notes
    -----
    Probabilities are clipped to ``[eps, 1 - eps]`` (``eps`` of the dtype) before the
    logarithm, as scikit-learn does, so a confident wrong answer costs a large but
    finite loss. The gradient uses the unclipped output.
    """
    sw_sum = sw.sum()
    w = sw[:, None]
    if loss == C.SQUARED_ERROR:
        return 0.5 * float(np.mean(np.sum(w * (Y - A_out) ** 2, axis=0) / sw_sum))
    if loss == C.POISSON:
        return float(np.sum(np.sum(w * (xlogy(Y, Y / A_out) - Y + A_out), axis=0) / sw_sum))
    if loss == C.HUBER:
        R = np.abs(A_out - Y)
        d = C.HUBER_DELTA
        per_sample = np.where(R <= d, 0.5 * R**2, d * (R - 0.5 * d))
        return float(np.sum(np.sum(w * per_sample, axis=0) / sw_sum))
    if loss == C.ABSOLUTE_ERROR:
        return float(np.sum(np.sum(w * np.abs(A_out - Y), axis=0) / sw_sum))
    eps = np.finfo(A_out.dtype).eps
    # The classifiers' losses run every mini-batch: np.maximum and np.minimum clip as
    # np.clip does, and np.add.reduce sums as np.sum does, without their Python
    # wrappers, which cost more than a small batch's arithmetic.
    P = np.maximum(A_out, eps)
    np.minimum(P, 1 - eps, out=P)
    if loss == C.BINARY_LOG_LOSS:
        per_sample = xlogy(Y, P) + xlogy(1 - Y, 1 - P)
    else:
        per_sample = xlogy(Y, P)
    return -float(np.add.reduce(np.add.reduce(w * per_sample, axis=0) / sw_sum))


def output_delta(A_out, Y, sw, loss):
    """The gradient of the loss with respect to the output layer's ``Z``, per sample and
    weighted: ``(A - Y) * sw`` for the four pairs that make it the residual; Huber clips
    the residual to ``[-d, d]``, absolute error keeps its sign."""
    R = A_out - Y
    if loss == C.HUBER:
        np.clip(R, -C.HUBER_DELTA, C.HUBER_DELTA, out=R)
    elif loss == C.ABSOLUTE_ERROR:
        R = np.sign(R)
    R *= sw[:, None]
    return R


def penalty(coefs, alpha, sw_sum):
    """The L2 term ``alpha / 2 * sum(W**2) / sum(sw)`` (biases are not penalised)."""
    return 0.5 * alpha * sum(float(np.dot(W.ravel(), W.ravel())) for W in coefs) / sw_sum
