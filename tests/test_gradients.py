"""Analytic gradients equal central finite differences of the loss, in float64.

For every hidden activation and every output/loss pair, with an L2 penalty and
non-uniform sample weights, ``batch_loss_grad`` of both engines must return the gradient
of the loss it returns. The finite differences are taken of the engine's own loss, so
each engine is checked on its own (their agreement is :mod:`tests.test_kernels`'s job).

With dropout the loss is still a deterministic function of ``theta``: the masks are a
hash of ``counts[DROPOUT_SEED]`` and ``counts[BATCH_COUNT]``, which stay fixed here.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastnn import _codes as C
from fastnn import kernels, reference
from fastnn.layout import layer_sizes, n_params, unpack, work_size

ENGINES = {"numpy": reference, "numba": kernels}

# Relative error allowed between the analytic and the finite-difference gradient; it is
# measured against the largest component (as ``atol``) as well as elementwise (as
# ``rtol``), so that components near zero do not demand more than the step allows.
RTOL = 1e-6
# Central differences err by O(STEP**2) from truncation and O(eps / STEP) from rounding.
STEP = 1e-6
# relu and leaky_relu are not differentiable at 0, Huber's loss has no second derivative
# at |residual| = HUBER_DELTA, and the absolute error is not differentiable at 0: every
# hidden pre-activation and residual must stay this far from its kink, much further than
# a STEP-sized change of one parameter can move it.
KINK_MARGIN = 1e-4

ALPHA = 0.3
N_SAMPLES = 6
N_FEATURES = 3

HIDDEN = {
    "identity": C.IDENTITY,
    "logistic": C.LOGISTIC,
    "tanh": C.TANH,
    "relu": C.RELU,
    "leaky_relu": C.LEAKY_RELU,
}
KINKED = (C.RELU, C.LEAKY_RELU)
# (output/loss code, number of outputs)
OUTPUTS = {
    "squared_error": (C.SQUARED_ERROR, 1),
    "binary": (C.BINARY_LOG_LOSS, 1),
    "multilabel": (C.BINARY_LOG_LOSS, 3),
    "multiclass": (C.LOG_LOSS, 3),
    "poisson": (C.POISSON, 1),
    "poisson_2_outputs": (C.POISSON, 2),
    "huber": (C.HUBER, 1),
    "huber_2_outputs": (C.HUBER, 2),
    "absolute_error": (C.ABSOLUTE_ERROR, 1),
    "absolute_error_2_outputs": (C.ABSOLUTE_ERROR, 2),
}
# Dropout rates of the two hidden layers, and the counters that fix the masks.
RATES = (0.3, 0.5)
DROPOUT_SEED = 97
BATCH_COUNT = 4


def make_problem(output, n_outputs, hidden_layer_sizes, seed=0):
    """A tiny batch ``X, Y, sw`` with targets suited to the loss, the layer sizes, and
    parameters small enough that no probability saturates.

    Classes are drawn so that each appears; Poisson targets are non-negative counts.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    if output == C.SQUARED_ERROR:
        Y = rng.normal(size=(N_SAMPLES, n_outputs))
    elif output in (C.HUBER, C.ABSOLUTE_ERROR):
        # Spread out, so that Huber's residuals fall on both sides of its threshold.
        Y = 2 * rng.normal(size=(N_SAMPLES, n_outputs))
    elif output == C.BINARY_LOG_LOSS:
        Y = rng.integers(0, 2, size=(N_SAMPLES, n_outputs)).astype(np.float64)
    elif output == C.LOG_LOSS:
        Y = np.eye(n_outputs)[np.arange(N_SAMPLES) % n_outputs]
    else:
        Y = rng.poisson(2.0, size=(N_SAMPLES, n_outputs)).astype(np.float64)
    sw = rng.uniform(0.5, 2.0, size=N_SAMPLES)
    sizes = layer_sizes(N_FEATURES, hidden_layer_sizes, n_outputs)
    theta = 0.5 * rng.normal(size=n_params(sizes))
    return X, Y, sw, sizes, theta


def make_scalars(alpha, rates=()):
    """The hyper-parameter vector ``batch_loss_grad`` reads: alpha, and the dropout
    rates of the hidden layers with the counters that fix the masks."""
    scalars = C.new_scalars(len(rates))
    hyper, counts = scalars
    hyper[C.ALPHA] = alpha
    hyper[C.DROPOUT : C.DROPOUT + len(rates)] = rates
    counts[C.DROPOUT_SEED] = DROPOUT_SEED
    counts[C.BATCH_COUNT] = BATCH_COUNT
    return scalars


def hidden_preactivations(X, sizes, theta, hidden, scalars=None):
    """Every hidden layer's ``Z = A W + b``, recomputed here layer by layer (the next
    layer sees the previous one's outputs after dropout, if ``scalars`` sets rates)."""
    coefs, intercepts = unpack(theta, sizes)
    A = X
    Zs = []
    for i, (W, b) in enumerate(zip(coefs[:-1], intercepts[:-1])):
        Z = A @ W + b
        Zs.append(Z)
        A = Z.copy()
        reference.activate(A, hidden)
        p = 0.0 if scalars is None else reference.dropout_rate(scalars, i)
        if p > 0:
            reference.dropout(A, p, scalars, i)
    return Zs


def assert_away_from_kinks(X, Y, sizes, theta, codes, scalars=None):
    """Every kink of the activation and of the loss is at least KINK_MARGIN away."""
    if codes[C.HIDDEN] in KINKED:
        Zs = hidden_preactivations(X, sizes, theta, codes[C.HIDDEN], scalars)
        margin = min(np.min(np.abs(Z)) for Z in Zs)
        assert margin > KINK_MARGIN, "pre-activation too close to the kink: change the seed"
    R = reference.forward(X, (sizes, codes), theta, scalars)[-1] - Y
    if codes[C.OUTPUT] == C.HUBER:
        assert np.min(np.abs(np.abs(R) - C.HUBER_DELTA)) > KINK_MARGIN, "change the seed"
        # Both branches, the quadratic and the linear one, are checked.
        assert np.any(np.abs(R) < C.HUBER_DELTA) and np.any(np.abs(R) > C.HUBER_DELTA)
    if codes[C.OUTPUT] == C.ABSOLUTE_ERROR:
        assert np.min(np.abs(R)) > KINK_MARGIN, "residual too close to 0: change the seed"


def loss_and_grad(engine, X, Y, sw, sizes, theta, codes, alpha, rates=()):
    """``batch_loss_grad`` of one engine, with its scratch and hyper-parameter vectors."""
    scalars = make_scalars(alpha, rates)
    work = np.zeros(work_size(sizes, X.shape[0], gather=False))
    grad = np.zeros_like(theta)
    loss = engine.batch_loss_grad(X, Y, sw, (sizes, codes), theta, grad, scalars, work)
    return loss, grad


def finite_differences(loss, theta):
    """Central differences ``(loss(theta + h e_k) - loss(theta - h e_k)) / 2h``."""
    grad = np.empty_like(theta)
    for k in range(theta.shape[0]):
        step = np.zeros_like(theta)
        step[k] = STEP
        grad[k] = (loss(theta + step) - loss(theta - step)) / (2 * STEP)
    return grad


def assert_gradient_close(got, expected):
    """``got`` equals ``expected`` to ``RTOL``, relative to its largest component too."""
    assert_allclose(got, expected, rtol=RTOL, atol=RTOL * np.max(np.abs(expected)))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden_layer_sizes", [(5,), (4, 3)], ids=["1-hidden", "2-hidden"])
def test_gradient_matches_finite_differences(engine, hidden, output, hidden_layer_sizes):
    engine = ENGINES[engine]
    output, n_outputs = OUTPUTS[output]
    X, Y, sw, sizes, theta = make_problem(output, n_outputs, hidden_layer_sizes)
    codes = np.array([HIDDEN[hidden], output, C.SGD], dtype=np.int64)
    assert_away_from_kinks(X, Y, sizes, theta, codes)

    def loss(t):
        return loss_and_grad(engine, X, Y, sw, sizes, t, codes, ALPHA)[0]

    _, got = loss_and_grad(engine, X, Y, sw, sizes, theta, codes, ALPHA)
    expected = finite_differences(loss, theta)
    assert_gradient_close(got, expected)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n_outputs", [2, 3])
def test_squared_error_gradient_is_of_sum_over_outputs(engine, n_outputs):
    # scikit-learn's squared error *averages* over the k outputs, but its gradient (the
    # residual A - Y) is that of the *sum* over outputs: the gradient of k * loss.
    engine = ENGINES[engine]
    X, Y, sw, sizes, theta = make_problem(C.SQUARED_ERROR, n_outputs, (5,))
    codes = np.array([C.TANH, C.SQUARED_ERROR, C.SGD], dtype=np.int64)

    def k_times_loss(t):
        return n_outputs * loss_and_grad(engine, X, Y, sw, sizes, t, codes, 0.0)[0]

    _, got = loss_and_grad(engine, X, Y, sw, sizes, theta, codes, 0.0)
    expected = finite_differences(k_times_loss, theta)
    assert_gradient_close(got, expected)


@pytest.mark.parametrize("engine", ENGINES)
def test_squared_error_penalty_gradient_is_not_scaled(engine):
    # With k outputs and alpha > 0 only the data term is scaled by k: the gradient is
    # that of k * (loss - penalty) + penalty.
    engine = ENGINES[engine]
    n_outputs = 3
    X, Y, sw, sizes, theta = make_problem(C.SQUARED_ERROR, n_outputs, (5,))
    codes = np.array([C.TANH, C.SQUARED_ERROR, C.SGD], dtype=np.int64)

    def scaled_loss(t):
        penalty = reference.penalty(unpack(t, sizes)[0], ALPHA, sw.sum())
        loss = loss_and_grad(engine, X, Y, sw, sizes, t, codes, ALPHA)[0]
        return n_outputs * (loss - penalty) + penalty

    _, got = loss_and_grad(engine, X, Y, sw, sizes, theta, codes, ALPHA)
    expected = finite_differences(scaled_loss, theta)
    assert_gradient_close(got, expected)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", ["squared_error", "multiclass", "huber", "absolute_error"])
def test_gradient_with_dropout_matches_finite_differences(engine, hidden, output):
    engine = ENGINES[engine]
    output, n_outputs = OUTPUTS[output]
    X, Y, sw, sizes, theta = make_problem(output, n_outputs, (4, 3))
    codes = np.array([HIDDEN[hidden], output, C.SGD], dtype=np.int64)
    scalars = make_scalars(ALPHA, RATES)
    assert_away_from_kinks(X, Y, sizes, theta, codes, scalars)
    # Some units of each hidden layer are dropped and some kept, so the masks matter.
    for layer, units in enumerate(sizes[1:-1]):
        u = reference.dropout_uniform(DROPOUT_SEED, BATCH_COUNT, layer, N_SAMPLES, units)
        assert 0 < np.mean(u < RATES[layer]) < 1

    def loss(t):
        return loss_and_grad(engine, X, Y, sw, sizes, t, codes, ALPHA, RATES)[0]

    _, got = loss_and_grad(engine, X, Y, sw, sizes, theta, codes, ALPHA, RATES)
    expected = finite_differences(loss, theta)
    assert_gradient_close(got, expected)


@pytest.mark.parametrize("engine", ENGINES)
def test_dropout_changes_the_gradient(engine):
    # The check above would pass vacuously if the rates were ignored.
    engine = ENGINES[engine]
    X, Y, sw, sizes, theta = make_problem(C.SQUARED_ERROR, 1, (4, 3))
    codes = np.array([C.TANH, C.SQUARED_ERROR, C.SGD], dtype=np.int64)
    _, with_dropout = loss_and_grad(engine, X, Y, sw, sizes, theta, codes, ALPHA, RATES)
    _, without = loss_and_grad(engine, X, Y, sw, sizes, theta, codes, ALPHA)
    assert not np.allclose(with_dropout, without)
