"""Analytic gradients equal central finite differences of the loss, in float64.

For every hidden activation and every output/loss pair, with an L2 penalty and
non-uniform sample weights, ``batch_loss_grad`` of both engines must return the gradient
of the loss it returns. The finite differences are taken of the engine's own loss, so
each engine is checked on its own (their agreement is :mod:`tests.test_kernels`'s job).
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
# relu is not differentiable at 0: every hidden pre-activation must stay this far away,
# much further than a STEP-sized change of one parameter can move it.
KINK_MARGIN = 1e-4

ALPHA = 0.3
N_SAMPLES = 6
N_FEATURES = 3

HIDDEN = {
    "identity": C.IDENTITY,
    "logistic": C.LOGISTIC,
    "tanh": C.TANH,
    "relu": C.RELU,
}
# (output/loss code, number of outputs)
OUTPUTS = {
    "squared_error": (C.SQUARED_ERROR, 1),
    "binary": (C.BINARY_LOG_LOSS, 1),
    "multilabel": (C.BINARY_LOG_LOSS, 3),
    "multiclass": (C.LOG_LOSS, 3),
    "poisson": (C.POISSON, 1),
    "poisson_2_outputs": (C.POISSON, 2),
}


def make_problem(output, n_outputs, hidden_layer_sizes, seed=0):
    """A tiny batch ``X, Y, sw`` with targets suited to the loss, the layer sizes, and
    parameters small enough that no probability saturates.

    Classes are drawn so that each appears; Poisson targets are non-negative counts.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    if output == C.SQUARED_ERROR:
        Y = rng.normal(size=(N_SAMPLES, n_outputs))
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


def hidden_preactivations(X, sizes, theta, hidden):
    """Every hidden layer's ``Z = A W + b``, recomputed here layer by layer."""
    coefs, intercepts = unpack(theta, sizes)
    A = X
    Zs = []
    for W, b in zip(coefs[:-1], intercepts[:-1]):
        Z = A @ W + b
        Zs.append(Z)
        A = Z.copy()
        reference.activate(A, hidden)
    return Zs


def loss_and_grad(engine, X, Y, sw, sizes, theta, codes, alpha):
    """``batch_loss_grad`` of one engine, with its scratch and hyper-parameter vectors."""
    scalars = np.zeros(C.N_SCALARS)
    scalars[C.ALPHA] = alpha
    work = np.zeros(work_size(sizes, X.shape[0], gather=False))
    grad = np.zeros_like(theta)
    loss = engine.batch_loss_grad(X, Y, sw, sizes, theta, grad, scalars, codes, work)
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
    if HIDDEN[hidden] == C.RELU:
        margin = min(np.min(np.abs(Z)) for Z in hidden_preactivations(X, sizes, theta, C.RELU))
        assert margin > KINK_MARGIN, "relu pre-activation too close to its kink: change the seed"

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
