"""The math of a multi-layer perceptron in plain, vectorised NumPy.

This module is the textbook, and the numpy engine. Read it top to bottom:

1. activations and their derivatives, written from the stored outputs ``A``, and
   dropout with a counter-based random generator;
2. output activation and loss, in pairs, and the output delta each pair gives;
3. the forward pass ``Z = A W + b``, ``A' = f(Z)``;
4. the backward pass, which turns deltas into ``dW``, ``db`` and the previous delta;
5. the optimizer steps (SGD with momentum, Adam, AdamW, RMSprop);
6. epochs of mini-batches, and the bookkeeping between epochs.

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
    """Apply a hidden activation to ``Z`` in place: identity, logistic, tanh, relu or
    leaky_relu (slope ``LEAKY_SLOPE`` below zero)."""
    if code == C.LOGISTIC:
        expit(Z, out=Z)  # 1 / (1 + exp(-Z)), computed without overflow
    elif code == C.TANH:
        np.tanh(Z, out=Z)
    elif code == C.RELU:
        np.maximum(Z, 0, out=Z)
    elif code == C.LEAKY_RELU:
        Z[Z < 0] *= C.LEAKY_SLOPE


def activation_derivative(A, delta, code):
    """Multiply ``delta`` in place by ``f'(Z)``, written from the output ``A = f(Z)``.

    logistic: ``A (1 - A)``; tanh: ``1 - A**2``; relu: ``1`` where ``A > 0`` else ``0``;
    leaky_relu: ``LEAKY_SLOPE`` where ``A < 0`` else ``1``.
    """
    if code == C.LOGISTIC:
        delta *= A
        delta *= 1 - A
    elif code == C.TANH:
        delta *= 1 - A**2
    elif code == C.RELU:
        delta[A == 0] = 0
    elif code == C.LEAKY_RELU:
        delta[A < 0] *= C.LEAKY_SLOPE


def _mix(z):
    """SplitMix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def dropout_uniform(seed, batch, layer, n_rows, n_units, row0=0):
    """Uniform numbers in ``[0, 1)`` for a batch's ``(n_rows, n_units)`` hidden block
    (the batch's rows ``row0`` to ``row0 + n_rows - 1``).

    Counter-based: each number is a hash of ``(seed, batch, layer, row, unit)``, so the
    masks depend neither on the engine nor on the number of threads, and the backward
    pass recomputes them instead of storing them (Salmon et al., SC 2011, "Parallel
    random numbers: as easy as 1, 2, 3").
    """
    h = np.full((1, 1), int(seed), dtype=np.uint64)
    h = _mix(h ^ np.uint64(int(batch)))
    rows = np.arange(row0, row0 + n_rows, dtype=np.uint64)[:, None]
    h = _mix(h ^ ((np.uint64(int(layer)) << np.uint64(32)) | rows))
    h = _mix(h ^ np.arange(n_units, dtype=np.uint64)[None, :])
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def dropout_rate(scalars, layer):
    """The dropout rate of hidden layer ``layer`` (0 where none was given)."""
    slot = C.DROPOUT + layer
    return scalars[slot] if slot < scalars.shape[0] else 0.0


def dropout(A, p, scalars, layer, row0=0):
    """Inverted dropout in place: zero each unit with probability ``p`` and scale the
    rest by ``1 / (1 - p)``, so that prediction needs no rescaling. ``A`` holds the
    batch's rows from ``row0`` on."""
    seed, batch = scalars[C.DROPOUT_SEED], scalars[C.BATCH_COUNT]
    u = dropout_uniform(seed, batch, layer, *A.shape, row0)
    A *= u >= p
    A /= 1 - p


def dropout_derivative(A, delta, code, p, scalars, layer, row0=0):
    """``activation_derivative`` through dropout: the kept units' outputs before scaling
    are ``A (1 - p)``; the dropped units pass no gradient."""
    activation_derivative(A * (1 - p), delta, code)
    seed, batch = scalars[C.DROPOUT_SEED], scalars[C.BATCH_COUNT]
    u = dropout_uniform(seed, batch, layer, *A.shape, row0)
    delta *= u >= p
    delta /= 1 - p


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
    P = np.clip(A_out, eps, 1 - eps)
    if loss == C.BINARY_LOG_LOSS:
        per_sample = xlogy(Y, P) + xlogy(1 - Y, 1 - P)
    else:
        per_sample = xlogy(Y, P)
    return -float(np.sum(np.sum(w * per_sample, axis=0) / sw_sum))


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


# --- 3. Forward pass ----------------------------------------------------------------


def forward(X, sizes, theta, codes, scalars=None):
    """All layers' activations ``[X, A_1, ..., A_L]`` for the rows of ``X``.

    With ``scalars`` (training), hidden layers with a dropout rate are dropped out.
    """
    coefs, intercepts = unpack(theta, sizes)
    activations = [X]
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        Z = activations[-1] @ W
        Z += b
        if i < len(coefs) - 1:
            activate(Z, codes[C.HIDDEN])
            p = 0.0 if scalars is None else dropout_rate(scalars, i)
            if p > 0:
                dropout(Z, p, scalars, i)
        else:
            output_activate(Z, codes[C.OUTPUT])
        activations.append(Z)
    return activations


def predict(X, sizes, theta, codes):
    """The output layer's activations for ``X`` (probabilities for a classifier)."""
    return forward(X, sizes, theta, codes)[-1]


# --- 4. Backward pass ---------------------------------------------------------------


def backward(activations, Y, sw, sizes, theta, grad, scalars, codes):
    """Write the gradient of the mean loss into ``grad`` (same layout as ``theta``).

    The output delta comes from :func:`output_delta`. For each layer, from the last:
    ``dW = (A_prev.T @ delta + alpha W) / sum(sw)``, ``db = sum(delta) / sum(sw)``,
    and the previous delta is ``(delta @ W.T) * f'(A_prev)`` (through dropout, if any).
    """
    alpha = scalars[C.ALPHA]
    coefs, _ = unpack(theta, sizes)
    dcoefs, dintercepts = unpack(grad, sizes)
    sw_sum = sw.sum()
    delta = output_delta(activations[-1], Y, sw, codes[C.OUTPUT])
    for i in range(len(coefs) - 1, -1, -1):
        A_prev = activations[i]
        dcoefs[i][...] = A_prev.T @ delta
        dcoefs[i] += alpha * coefs[i]
        dcoefs[i] /= sw_sum
        dintercepts[i][...] = np.sum(delta, axis=0) / sw_sum
        if i > 0:
            delta = delta @ coefs[i].T
            p = dropout_rate(scalars, i - 1)
            if p > 0:
                dropout_derivative(A_prev, delta, codes[C.HIDDEN], p, scalars, i - 1)
            else:
                activation_derivative(A_prev, delta, codes[C.HIDDEN])


def batch_loss_grad(X, Y, sw, sizes, theta, grad, scalars, codes, work):
    """Loss (data term plus penalty) on one batch, and its gradient into ``grad``.

    ``work`` is the numba engine's scratch buffer; NumPy allocates as it goes and
    ignores it.
    """
    activations = forward(X, sizes, theta, codes, scalars)
    loss = output_loss(activations[-1], Y, sw, codes[C.OUTPUT])
    loss += penalty(unpack(theta, sizes)[0], scalars[C.ALPHA], sw.sum())
    backward(activations, Y, sw, sizes, theta, grad, scalars, codes)
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
    folded into the learning rate: ``lr_t = lr sqrt(1 - b2**t) / (1 - b1**t)``, where
    ``lr`` is the scheduled rate ``scalars[RATE]``.

    As scikit-learn's under NumPy 2: the moments and ``sqrt(v) + eps`` in the
    parameters' dtype ``T`` (its hyper-parameters are Python floats), the update in
    float64 (its rate is a NumPy float64), rounded when it is subtracted. The update is
    made float64 explicitly, so that NumPy 1's promotion rules give the same."""
    T = theta.dtype.type
    beta_1, beta_2 = scalars[C.BETA_1], scalars[C.BETA_2]
    scalars[C.STEP] += 1
    t = scalars[C.STEP]
    m *= T(beta_1)
    m += T(1 - beta_1) * grad
    v *= T(beta_2)
    v += T(1 - beta_2) * grad**2
    lr_t = scalars[C.RATE] * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    scalars[C.LR] = lr_t
    theta -= lr_t * m.astype(np.float64) / (np.sqrt(v) + T(scalars[C.EPSILON]))


def adamw_step(theta, grad, m, v, scalars):
    """One AdamW step (Loshchilov and Hutter, arXiv 1711.05101): the weights first decay,
    ``W *= 1 - lr * weight_decay``, apart from the gradient; then an Adam step."""
    n_weights = int(scalars[C.N_WEIGHTS])
    theta[:n_weights] *= 1 - scalars[C.RATE] * scalars[C.WEIGHT_DECAY]
    adam_step(theta, grad, m, v, scalars)


def rmsprop_step(theta, grad, v, scalars):
    """One RMSprop step (Tieleman and Hinton, 2012, lecture 6.5):
    ``v = rho v + (1 - rho) g**2``; ``theta -= lr g / (sqrt(v) + eps)``, with
    ``rho = beta_2``, in the parameters' dtype ``T`` as :func:`adam_step`."""
    T = theta.dtype.type
    rho = scalars[C.BETA_2]
    v *= T(rho)
    v += T(1 - rho) * grad**2
    theta -= scalars[C.RATE] * grad.astype(np.float64) / (np.sqrt(v) + T(scalars[C.EPSILON]))


def optimizer_step(theta, grad, state, scalars, codes):
    """Dispatch to the solver's step; ``state`` starts with the solver's moment vectors:
    ``[velocity]`` (sgd), ``[m, v]`` (adam, adamw) or ``[v]`` (rmsprop)."""
    n = theta.shape[0]
    solver = codes[C.SOLVER]
    if solver == C.SGD:
        sgd_step(theta, grad, state[:n], scalars)
    elif solver == C.ADAM:
        adam_step(theta, grad, state[:n], state[n : 2 * n], scalars)
    elif solver == C.ADAMW:
        adamw_step(theta, grad, state[:n], state[n : 2 * n], scalars)
    else:
        rmsprop_step(theta, grad, state[:n], scalars)


# --- 6. Epochs ---------------------------------------------------------------------


def run_epoch(X, Y, sw, idx, batch_size, sizes, theta, grad, state, scalars, codes, work):
    """Train on the rows ``idx`` in mini-batches of ``batch_size`` (the last one may be
    shorter); return the sum over batches of ``batch loss * batch length``."""
    total = 0.0
    n = idx.shape[0]
    for start in range(0, n, batch_size):
        rows = idx[start : start + batch_size]
        scalars[C.BATCH_COUNT] += 1
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
    ``tol`` counts as no improvement. Then the schedule updates the rate: inverse
    scaling ``lr = lr_init / (t + 1) ** power_t``, cosine
    ``lr = lr_init (1 + cos(pi e / horizon)) / 2`` after epoch ``e``, or step
    ``lr = lr_init * STEP_GAMMA ** floor(e / horizon)``. After more than ``n_iter_no_change``
    such epochs the adaptive schedule divides the rate by 5 (until it is ``<= 1e-6``)
    while any other schedule stops: ``scalars[STOP] = CONVERGED``.
    """
    if value > scalars[C.BEST] - scalars[C.TOL]:
        scalars[C.NO_IMPROVEMENT] += 1
    else:
        scalars[C.NO_IMPROVEMENT] = 0
    if value < scalars[C.BEST]:
        scalars[C.BEST] = value
    scalars[C.EPOCH] += 1
    schedule = scalars[C.SCHEDULE]
    if schedule == C.INVSCALING:
        scalars[C.LR] = scalars[C.LR_INIT] / (scalars[C.SEEN] + 1) ** scalars[C.POWER_T]
    elif schedule == C.COSINE:
        progress = min(scalars[C.EPOCH], scalars[C.HORIZON]) / scalars[C.HORIZON]
        scalars[C.LR] = scalars[C.LR_INIT] * 0.5 * (1 + np.cos(np.pi * progress))
        scalars[C.RATE] = scalars[C.LR]
    elif schedule == C.STEP_DECAY:
        steps = np.floor(scalars[C.EPOCH] / scalars[C.HORIZON])
        scalars[C.LR] = scalars[C.LR_INIT] * C.STEP_GAMMA**steps
        scalars[C.RATE] = scalars[C.LR]
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
