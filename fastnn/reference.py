"""The math of a multi-layer perceptron in plain, vectorised NumPy.

This module is the textbook, and the numpy engine. Read it top to bottom:

1. activations and their derivatives, written from the stored outputs ``A``, and
   dropout with a counter-based random generator;
2. output activation and loss, in pairs, and the output delta each pair gives, in
   :mod:`fastnn.reference_losses`;
3. the forward pass ``Z = A W + b``, ``A' = f(Z)``;
4. the backward pass, which turns deltas into ``dW``, ``db`` and the previous delta;
5. the optimizer steps (SGD with momentum, Adam, AdamW, RMSprop), in
   :mod:`fastnn.reference_optim`;
6. epochs of mini-batches, and the bookkeeping between epochs.

Every function here has a twin of the same name and meaning in :mod:`fastnn.kernels`,
compiled by Numba and writing into preallocated buffers. Tests hold the two equal.

Conventions (scikit-learn's): ``theta`` is the flat parameter vector
(:mod:`fastnn.layout`), ``sizes`` the units per layer, ``codes`` the integer codes of
:mod:`fastnn._codes`, ``scalars`` the pair ``(hyper, counts)`` of its float64
hyper-parameters and rates and its int64 counters and flags (slots in
:mod:`fastnn._codes`), and ``sw`` the sample weights (ones when the user gave none:
multiplying by one is exact). Arrays that travel together go as tuples, the same in
both engines: ``network = (sizes, codes)``, ``data = (X, Y, sw, idx)`` (the training
rows and their order) and ``params = (theta, grad, state)``.
"""

from typing import NamedTuple

import numpy as np
import scipy.sparse
from scipy.special import expit

from fastnn import _codes as C
from fastnn.layout import unpack

# Two catalogues have modules of their own: section 2, the output activations and
# losses (read it after section 1), and section 5, the optimizer steps (after 4).
from fastnn.reference_losses import output_activate, output_delta, output_loss, penalty
from fastnn.reference_optim import (  # noqa: F401  (twins of the kernels' names)
    adam_step,
    adamw_step,
    optimizer_step,
    rmsprop_step,
    sgd_step,
)

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
        # A multiplication by the mask, not ``delta[A == 0] = 0``: a boolean assignment
        # branches on every entry, and a dead unit's pattern is random (5x slower).
        # The values are the kernel's, except that a zero may carry a sign (no sum
        # changes) and that a delta which overflowed to inf on a dead unit gives NaN
        # here where the kernel gives 0.
        np.multiply(delta, A != 0, out=delta)
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
    hyper = scalars[0]
    slot = C.DROPOUT + layer
    return hyper[slot] if slot < hyper.shape[0] else 0.0


def dropout(A, p, scalars, layer, row0=0):
    """Inverted dropout in place: zero each unit with probability ``p`` and scale the
    rest by ``1 / (1 - p)``, so that prediction needs no rescaling. ``A`` holds the
    batch's rows from ``row0`` on."""
    _, counts = scalars
    seed, batch = counts[C.DROPOUT_SEED], counts[C.BATCH_COUNT]
    u = dropout_uniform(seed, batch, layer, *A.shape, row0)
    A *= u >= p
    A /= 1 - p


def dropout_derivative(A, delta, code, p, scalars, layer, row0=0):
    """``activation_derivative`` through dropout: the kept units' outputs before scaling
    are ``A (1 - p)``; the dropped units pass no gradient."""
    _, counts = scalars
    activation_derivative(A * (1 - p), delta, code)
    seed, batch = counts[C.DROPOUT_SEED], counts[C.BATCH_COUNT]
    u = dropout_uniform(seed, batch, layer, *A.shape, row0)
    delta *= u >= p
    delta /= 1 - p


# --- 3. Forward pass ----------------------------------------------------------------


class Layers(NamedTuple):
    """Per-layer views into the flat vectors (:func:`fastnn.layout.unpack`): writing to
    them writes ``theta`` and ``grad``. :func:`run_epochs` makes them once per call;
    remade for every use, they cost more than a small network's whole mini-batch."""

    coefs: list  # W of each layer, in theta
    intercepts: list  # b of each layer, in theta
    dcoefs: list  # dW of each layer, in grad (empty when there is no grad)
    dintercepts: list  # db of each layer, in grad
    n_weights: int  # the W come first in the flat layout: theta[:n_weights]


def layers(sizes, theta, grad=None):
    """The :class:`Layers` of ``theta`` and, if given, ``grad``."""
    coefs, intercepts = unpack(theta, sizes)
    dcoefs, dintercepts = ([], []) if grad is None else unpack(grad, sizes)
    return Layers(coefs, intercepts, dcoefs, dintercepts, sum(W.size for W in coefs))


def forward(X, network, theta, scalars=None):
    """All layers' activations ``[X, A_1, ..., A_L]`` for the rows of ``X``.

    With ``scalars`` (training), hidden layers with a dropout rate are dropped out.
    """
    sizes, codes = network
    return _forward(X, layers(sizes, theta), codes, scalars)


def _forward(X, net, codes, scalars=None):
    """:func:`forward` on the :class:`Layers` ``net``."""
    activations = [X]
    last = len(net.coefs) - 1
    for i, (W, b) in enumerate(zip(net.coefs, net.intercepts)):
        Z = activations[-1] @ W
        Z += b
        if i < last:
            activate(Z, codes[C.HIDDEN])
            p = 0.0 if scalars is None else dropout_rate(scalars, i)
            if p > 0:
                dropout(Z, p, scalars, i)
        else:
            output_activate(Z, codes[C.OUTPUT])
        activations.append(Z)
    return activations


def predict(X, network, theta):
    """The output layer's activations for ``X`` (probabilities for a classifier)."""
    return forward(X, network, theta)[-1]


# --- 4. Backward pass ---------------------------------------------------------------


def backward(activations, Y, sw, network, theta, grad, scalars):
    """Write the gradient of the mean loss into ``grad`` (same layout as ``theta``).

    The output delta comes from :func:`output_delta`. For each layer, from the last:
    ``dW = (A_prev.T @ delta + alpha W) / sum(sw)``, ``db = sum(delta) / sum(sw)``,
    and the previous delta is ``(delta @ W.T) * f'(A_prev)`` (through dropout, if any).
    """
    sizes, codes = network
    _backward(activations, Y, sw, layers(sizes, theta, grad), theta, grad, scalars, codes)


def _backward(activations, Y, sw, net, theta, grad, scalars, codes):
    """:func:`backward` on the :class:`Layers` ``net`` of ``theta`` and ``grad``."""
    hyper, _ = scalars
    delta = output_delta(activations[-1], Y, sw, codes[C.OUTPUT])
    for i in range(len(net.coefs) - 1, -1, -1):
        A_prev = activations[i]
        if scipy.sparse.issparse(A_prev):  # sparse X: SciPy's product, as scikit-learn's
            net.dcoefs[i][...] = A_prev.T @ delta
        else:  # straight into the gradient's views: no temporary, no copy
            np.matmul(A_prev.T, delta, out=net.dcoefs[i])
        np.add.reduce(delta, axis=0, out=net.dintercepts[i])
        if i > 0:
            delta = delta @ net.coefs[i].T
            p = dropout_rate(scalars, i - 1)
            if p > 0:
                dropout_derivative(A_prev, delta, codes[C.HIDDEN], p, scalars, i - 1)
            else:
                activation_derivative(A_prev, delta, codes[C.HIDDEN])
    # The L2 term and the mean, once over the flat vectors rather than layer by layer:
    # the same operation on each entry, so the same bits.
    n = net.n_weights
    grad[:n] += hyper[C.ALPHA] * theta[:n]
    grad /= sw.sum()


def batch_loss_grad(X, Y, sw, network, theta, grad, scalars, work):
    """Loss (data term plus penalty) on one batch, and its gradient into ``grad``.

    ``work`` is the numba engine's scratch buffer; NumPy allocates as it goes and
    ignores it.
    """
    sizes, codes = network
    return _batch_loss_grad(X, Y, sw, layers(sizes, theta, grad), theta, grad, scalars, codes)


def _batch_loss_grad(X, Y, sw, net, theta, grad, scalars, codes):
    """:func:`batch_loss_grad` on the :class:`Layers` ``net`` of ``theta`` and ``grad``."""
    hyper, _ = scalars
    activations = _forward(X, net, codes, scalars)
    loss = output_loss(activations[-1], Y, sw, codes[C.OUTPUT])
    loss += penalty(net.coefs, hyper[C.ALPHA], sw.sum())
    _backward(activations, Y, sw, net, theta, grad, scalars, codes)
    return loss


# --- 6. Epochs ---------------------------------------------------------------------


def run_epoch(data, batch_size, network, params, scalars, work):
    """Train on the rows ``idx`` of ``data = (X, Y, sw, idx)`` in mini-batches of
    ``batch_size`` (the last one may be shorter); return the sum over batches of ``batch
    loss * batch length``. ``params = (theta, grad, state)``."""
    X, Y, sw, idx = data
    sizes, codes = network
    theta, grad, state = params
    net = layers(sizes, theta, grad)
    return _run_epoch(X, Y, sw, idx, batch_size, net, theta, grad, state, scalars, codes)


def _run_epoch(X, Y, sw, idx, batch_size, net, theta, grad, state, scalars, codes):
    """:func:`run_epoch` on the :class:`Layers` ``net`` of ``theta`` and ``grad``."""
    _, counts = scalars
    total = 0.0
    n = idx.shape[0]
    for start in range(0, n, batch_size):
        rows = idx[start : start + batch_size]
        counts[C.BATCH_COUNT] += 1
        loss = _batch_loss_grad(X[rows], Y[rows], sw[rows], net, theta, grad, scalars, codes)
        total += loss * rows.shape[0]
        optimizer_step(theta, grad, state, scalars, codes)
    return total


def shuffle(idx, rng_state):
    """Shuffle ``idx`` in place with NumPy's ``RandomState.shuffle``, continuing the
    Mersenne Twister stream kept in ``rng_state`` (624 key words, then the position)."""
    random_state = _random_state(rng_state)
    random_state.shuffle(idx)
    _store_state(random_state, rng_state)


def _random_state(rng_state):
    """A ``RandomState`` that continues the stream kept in ``rng_state``."""
    random_state = np.random.RandomState()
    random_state.set_state(("MT19937", rng_state[:624], int(rng_state[624])))
    return random_state


def _store_state(random_state, rng_state):
    """Write where ``random_state`` has got to back into ``rng_state``."""
    _, key, pos = random_state.get_state()[:3]
    rng_state[:624] = key
    rng_state[624] = pos


def epoch_end(scalars, value):
    """scikit-learn's bookkeeping after each epoch, on ``scalars = (hyper, counts)``.

    ``value`` is the epoch's training loss, or minus the validation score with early
    stopping (lower is better either way). An epoch that fails to beat the best value by
    ``tol`` counts as no improvement. Then the schedule updates the rate: inverse
    scaling ``lr = lr_init / (t + 1) ** power_t``, cosine
    ``lr = lr_init (1 + cos(pi e / horizon)) / 2`` after epoch ``e``, or step
    ``lr = lr_init * STEP_GAMMA ** floor(e / horizon)``. After more than ``n_iter_no_change``
    such epochs the adaptive schedule divides the rate by 5 (until it is ``<= 1e-6``)
    while any other schedule stops: ``counts[STOP] = CONVERGED``.
    """
    hyper, counts = scalars
    if value > hyper[C.BEST] - hyper[C.TOL]:
        counts[C.NO_IMPROVEMENT] += 1
    else:
        counts[C.NO_IMPROVEMENT] = 0
    if value < hyper[C.BEST]:
        hyper[C.BEST] = value
    counts[C.EPOCH] += 1
    schedule = counts[C.SCHEDULE]
    if schedule == C.INVSCALING:
        hyper[C.LR] = hyper[C.LR_INIT] / float(counts[C.SEEN] + 1) ** hyper[C.POWER_T]
    elif schedule == C.COSINE:
        progress = min(counts[C.EPOCH], counts[C.HORIZON]) / counts[C.HORIZON]
        hyper[C.LR] = hyper[C.LR_INIT] * 0.5 * (1 + np.cos(np.pi * progress))
        hyper[C.RATE] = hyper[C.LR]
    elif schedule == C.STEP_DECAY:
        steps = np.floor(counts[C.EPOCH] / counts[C.HORIZON])
        hyper[C.LR] = hyper[C.LR_INIT] * C.STEP_GAMMA**steps
        hyper[C.RATE] = hyper[C.LR]
    if counts[C.NO_IMPROVEMENT] > hyper[C.N_ITER_NO_CHANGE]:
        if counts[C.SCHEDULE] == C.ADAPTIVE and hyper[C.LR] > 1e-6:
            hyper[C.LR] /= 5.0
            counts[C.NO_IMPROVEMENT] = 0
        else:
            counts[C.STOP] = C.CONVERGED


def run_epochs(data, network, params, scalars, work, rng_state, losses):
    """Run up to ``losses.shape[0]`` epochs; return how many ran.

    ``data = (X, Y, sw, idx)``, ``network = (sizes, codes)``, ``params = (theta, grad,
    state)``. Each epoch saves ``theta`` in the last ``len(theta)`` entries of ``state``, shuffles
    ``idx`` (when ``counts[SHUFFLE]``), trains on every mini-batch of
    ``counts[BATCH_SIZE]`` rows, writes its mean loss to ``losses`` and, when
    ``counts[MONITOR]``, applies :func:`epoch_end`. Stops early when the stopping rule
    fires, or when the loss is not finite: then ``theta`` goes back to the saved weights
    and ``counts[STOP] = DIVERGED``.

    Notes
    -----
    A call shuffles with one ``RandomState``, built from ``rng_state`` at the start and
    written back at the end: building one and converting its state each way cost more
    than a small network's whole epoch. The draws are those of :func:`shuffle` each
    epoch, and ``rng_state`` is written back even when an epoch raises, so that it
    always matches the shuffles ``idx`` has had.
    """
    _, counts = scalars
    X, Y, sw, idx = data
    sizes, codes = network
    theta, grad, state = params
    n, n_epochs = idx.shape[0], losses.shape[0]
    batch_size = int(counts[C.BATCH_SIZE])
    saved = state[state.shape[0] - theta.shape[0] :]
    net = layers(sizes, theta, grad)
    random_state = _random_state(rng_state) if counts[C.SHUFFLE] else None
    try:
        for epoch in range(n_epochs):
            saved[:] = theta
            if random_state is not None:
                random_state.shuffle(idx)
            total = _run_epoch(X, Y, sw, idx, batch_size, net, theta, grad, state, scalars, codes)
            loss = total / n
            losses[epoch] = loss
            counts[C.SEEN] += n
            if not np.isfinite(loss):
                theta[:] = saved
                counts[C.STOP] = C.DIVERGED
                return epoch + 1
            if counts[C.MONITOR]:
                epoch_end(scalars, loss)
                if counts[C.STOP]:
                    return epoch + 1
        return n_epochs
    finally:
        if random_state is not None:
            _store_state(random_state, rng_state)
