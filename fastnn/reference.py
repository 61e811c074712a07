"""The math of a multi-layer perceptron in plain, vectorised NumPy.

This module is the textbook, and the numpy engine. Read it top to bottom:

1. activations and their derivatives, written from the stored outputs ``A``;
2. output activation and loss, in the pairs that make the output delta ``A - Y``;
3. the forward pass ``Z = A W + b``, ``A' = f(Z)``;
4. the backward pass, which turns deltas into ``dW``, ``db`` and the previous delta;
5. the optimizer steps (SGD with momentum, Adam);
6. one epoch of mini-batches.

Every function here has a twin of the same name and meaning in :mod:`fastnn.kernels`,
compiled by Numba and writing into preallocated buffers. Tests hold the two equal.

Conventions (scikit-learn's): ``theta`` is the flat parameter vector
(:mod:`fastnn.layout`), ``sizes`` the units per layer, ``codes`` the integer codes of
:mod:`fastnn._codes`, ``scalars`` the float64 hyper-parameter vector, and ``sw`` the
sample weights (ones when the user gave none: multiplying by one is exact).
"""

import numpy as np
from scipy.special import expit, xlogy

from fastnn import _codes as C
from fastnn.layout import unpack

# --- 1. Activations, in place -------------------------------------------------------


def activate(Z, code):
    """Apply a hidden activation to ``Z`` in place: identity, logistic, tanh or relu."""
    if code == C.LOGISTIC:
        expit(Z, out=Z)  # 1 / (1 + exp(-Z)), computed without overflow
    elif code == C.TANH:
        np.tanh(Z, out=Z)
    elif code == C.RELU:
        np.maximum(Z, 0, out=Z)


def activation_derivative(A, delta, code):
    """Multiply ``delta`` in place by ``f'(Z)``, written from the output ``A = f(Z)``.

    logistic: ``A (1 - A)``; tanh: ``1 - A**2``; relu: ``1`` where ``A > 0`` else ``0``.
    """
    if code == C.LOGISTIC:
        delta *= A
        delta *= 1 - A
    elif code == C.TANH:
        delta *= 1 - A**2
    elif code == C.RELU:
        delta[A == 0] = 0


# --- 2. Output activation and loss --------------------------------------------------


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
    - Poisson: ``sum over outputs of the mean of Y log(Y/A) - Y + A``.

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
    eps = np.finfo(A_out.dtype).eps
    P = np.clip(A_out, eps, 1 - eps)
    if loss == C.BINARY_LOG_LOSS:
        per_sample = xlogy(Y, P) + xlogy(1 - Y, 1 - P)
    else:
        per_sample = xlogy(Y, P)
    return -float(np.sum(np.sum(w * per_sample, axis=0) / sw_sum))


def penalty(coefs, alpha, sw_sum):
    """The L2 term ``alpha / 2 * sum(W**2) / sum(sw)`` (biases are not penalised)."""
    return 0.5 * alpha * sum(float(np.dot(W.ravel(), W.ravel())) for W in coefs) / sw_sum


# --- 3. Forward pass ----------------------------------------------------------------


def forward(X, sizes, theta, codes):
    """All layers' activations ``[X, A_1, ..., A_L]`` for the rows of ``X``."""
    coefs, intercepts = unpack(theta, sizes)
    activations = [X]
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        Z = activations[-1] @ W
        Z += b
        if i < len(coefs) - 1:
            activate(Z, codes[C.HIDDEN])
        else:
            output_activate(Z, codes[C.OUTPUT])
        activations.append(Z)
    return activations


def predict(X, sizes, theta, codes):
    """The output layer's activations for ``X`` (probabilities for a classifier)."""
    return forward(X, sizes, theta, codes)[-1]


# --- 4. Backward pass ---------------------------------------------------------------


def backward(activations, Y, sw, sizes, theta, grad, codes, alpha):
    """Write the gradient of the mean loss into ``grad`` (same layout as ``theta``).

    The output delta is ``(A_L - Y) * sw``. For each layer, from the last:
    ``dW = (A_prev.T @ delta + alpha W) / sum(sw)``, ``db = sum(delta) / sum(sw)``,
    and the previous delta is ``(delta @ W.T) * f'(A_prev)``.
    """
    coefs, _ = unpack(theta, sizes)
    dcoefs, dintercepts = unpack(grad, sizes)
    sw_sum = sw.sum()
    delta = (activations[-1] - Y) * sw[:, None]
    for i in range(len(coefs) - 1, -1, -1):
        A_prev = activations[i]
        dcoefs[i][...] = A_prev.T @ delta
        dcoefs[i] += alpha * coefs[i]
        dcoefs[i] /= sw_sum
        dintercepts[i][...] = np.sum(delta, axis=0) / sw_sum
        if i > 0:
            delta = delta @ coefs[i].T
            activation_derivative(A_prev, delta, codes[C.HIDDEN])


def batch_loss_grad(X, Y, sw, sizes, theta, grad, scalars, codes, work):
    """Loss (data term plus penalty) on one batch, and its gradient into ``grad``.

    ``work`` is the numba engine's scratch buffer; NumPy allocates as it goes and
    ignores it.
    """
    alpha = scalars[C.ALPHA]
    activations = forward(X, sizes, theta, codes)
    loss = output_loss(activations[-1], Y, sw, codes[C.OUTPUT])
    loss += penalty(unpack(theta, sizes)[0], alpha, sw.sum())
    backward(activations, Y, sw, sizes, theta, grad, codes, alpha)
    return loss


# --- 5. Optimizer steps -------------------------------------------------------------


def sgd_step(theta, grad, velocity, scalars):
    """One SGD step with momentum: ``v = mu v - lr g``; ``theta += v``.

    With Nesterov's momentum the step looks ahead: ``theta += mu v - lr g``
    (Sutskever et al., ICML 2013), as scikit-learn does.
    """
    lr, mu = scalars[C.LR], scalars[C.MOMENTUM]
    velocity *= mu
    velocity -= lr * grad
    if scalars[C.NESTEROV]:
        theta += mu * velocity - lr * grad
    else:
        theta += velocity


def adam_step(theta, grad, m, v, scalars):
    """One Adam step (Kingma and Ba, arXiv 1412.6980), with the bias correction
    folded into the learning rate: ``lr_t = lr sqrt(1 - b2**t) / (1 - b1**t)``."""
    beta_1, beta_2 = scalars[C.BETA_1], scalars[C.BETA_2]
    scalars[C.STEP] += 1
    t = scalars[C.STEP]
    m *= beta_1
    m += (1 - beta_1) * grad
    v *= beta_2
    v += (1 - beta_2) * grad**2
    lr_t = scalars[C.LR_INIT] * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    scalars[C.LR] = lr_t
    theta -= lr_t * m / (np.sqrt(v) + scalars[C.EPSILON])


def optimizer_step(theta, grad, state, scalars, codes):
    """Dispatch to the solver's step; ``state`` starts with ``[velocity]`` or ``[m, v]``."""
    n = theta.shape[0]
    if codes[C.SOLVER] == C.SGD:
        sgd_step(theta, grad, state[:n], scalars)
    else:
        adam_step(theta, grad, state[:n], state[n : 2 * n], scalars)


# --- 6. Epochs ---------------------------------------------------------------------


def run_epoch(X, Y, sw, idx, batch_size, sizes, theta, grad, state, scalars, codes, work):
    """Train on the rows ``idx`` in mini-batches of ``batch_size`` (the last one may be
    shorter); return the sum over batches of ``batch loss * batch length``."""
    total = 0.0
    n = idx.shape[0]
    for start in range(0, n, batch_size):
        rows = idx[start : start + batch_size]
        loss = batch_loss_grad(X[rows], Y[rows], sw[rows], sizes, theta, grad, scalars, codes, work)
        total += loss * rows.shape[0]
        optimizer_step(theta, grad, state, scalars, codes)
    return total


def shuffle(idx, rng_state):
    """Shuffle ``idx`` in place with NumPy's ``RandomState.shuffle``, continuing the
    Mersenne Twister stream kept in ``rng_state`` (624 key words, then the position)."""
    random_state = np.random.RandomState()
    random_state.set_state(("MT19937", rng_state[:624], int(rng_state[624])))
    random_state.shuffle(idx)
    _, key, pos = random_state.get_state()[:3]
    rng_state[:624] = key
    rng_state[624] = pos


def epoch_end(scalars, value):
    """scikit-learn's bookkeeping after each epoch, on the ``scalars`` vector.

    ``value`` is the epoch's training loss, or minus the validation score with early
    stopping (lower is better either way). An epoch that fails to beat the best value by
    ``tol`` counts as no improvement. Then the inverse-scaling schedule updates the rate
    (``lr = lr_init / (t + 1) ** power_t``), and after more than ``n_iter_no_change``
    such epochs the adaptive schedule divides the rate by 5 (until it is ``<= 1e-6``)
    while any other schedule stops: ``scalars[STOP] = CONVERGED``.
    """
    if value > scalars[C.BEST] - scalars[C.TOL]:
        scalars[C.NO_IMPROVEMENT] += 1
    else:
        scalars[C.NO_IMPROVEMENT] = 0
    if value < scalars[C.BEST]:
        scalars[C.BEST] = value
    if scalars[C.SCHEDULE] == C.INVSCALING:
        scalars[C.LR] = scalars[C.LR_INIT] / (scalars[C.SEEN] + 1) ** scalars[C.POWER_T]
    if scalars[C.NO_IMPROVEMENT] > scalars[C.N_ITER_NO_CHANGE]:
        if scalars[C.SCHEDULE] == C.ADAPTIVE and scalars[C.LR] > 1e-6:
            scalars[C.LR] /= 5.0
            scalars[C.NO_IMPROVEMENT] = 0
        else:
            scalars[C.STOP] = C.CONVERGED


def run_epochs(
    X, Y, sw, idx, n_epochs, sizes, theta, grad, state, scalars, codes, work, rng_state, losses
):
    """Run up to ``n_epochs`` epochs; return how many ran.

    Each epoch saves ``theta`` in the last ``len(theta)`` entries of ``state``, shuffles
    ``idx`` (when ``scalars[SHUFFLE]``), trains on every mini-batch of
    ``scalars[BATCH_SIZE]`` rows, writes its mean loss to ``losses`` and, when
    ``scalars[MONITOR]``, applies :func:`epoch_end`. Stops early when the stopping rule
    fires, or when the loss is not finite: then ``theta`` goes back to the saved weights
    and ``scalars[STOP] = DIVERGED``.
    """
    n = idx.shape[0]
    batch_size = int(scalars[C.BATCH_SIZE])
    saved = state[state.shape[0] - theta.shape[0] :]
    for epoch in range(n_epochs):
        saved[:] = theta
        if scalars[C.SHUFFLE]:
            shuffle(idx, rng_state)
        total = run_epoch(
            X, Y, sw, idx, batch_size, sizes, theta, grad, state, scalars, codes, work
        )
        loss = total / n
        losses[epoch] = loss
        scalars[C.SEEN] += n
        if not np.isfinite(loss):
            theta[:] = saved
            scalars[C.STOP] = C.DIVERGED
            return epoch + 1
        if scalars[C.MONITOR]:
            epoch_end(scalars, loss)
            if scalars[C.STOP]:
                return epoch + 1
    return n_epochs
