"""Every Numba kernel equals its NumPy twin in :mod:`fastnn.reference`, in both dtypes.

The second half re-derives the optimizer updates in plain NumPy from the papers'
formulas (as scikit-learn's ``test_stochastic_optimizers.py`` does) and holds both
engines to them over several steps.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastnn import _codes as C
from fastnn import kernels, reference
from fastnn.layout import layer_sizes, n_params, unpack, work_size

ENGINES = {"numpy": reference, "numba": kernels}

# float64: the kernels follow the reference's order of operations, so they agree to
# rounding. float32: the kernels accumulate some sums in float64 (sample-weight sums,
# loss columns, the penalty, softmax normalisers) and evaluate the logistic in float64
# before rounding, while NumPy stays in float32 and sums pairwise; the two differ by a
# few float32 ulps (eps = 1.2e-7), so 1e-5 leaves about a hundred ulps of headroom.
TOLERANCE = {
    np.float64: {"rtol": 1e-12, "atol": 1e-14},
    np.float32: {"rtol": 1e-5, "atol": 1e-6},
}
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])

HIDDEN = {
    "identity": C.IDENTITY,
    "logistic": C.LOGISTIC,
    "tanh": C.TANH,
    "relu": C.RELU,
}
# (output/loss code, number of outputs)
OUTPUTS = {
    "squared_error": (C.SQUARED_ERROR, 1),
    "squared_error_3_outputs": (C.SQUARED_ERROR, 3),
    "binary": (C.BINARY_LOG_LOSS, 1),
    "multilabel": (C.BINARY_LOG_LOSS, 3),
    "multiclass": (C.LOG_LOSS, 3),
    "poisson": (C.POISSON, 2),
}
LOSSES = {
    "squared_error": C.SQUARED_ERROR,
    "binary_log_loss": C.BINARY_LOG_LOSS,
    "log_loss": C.LOG_LOSS,
    "poisson": C.POISSON,
}

ALPHA = 0.3
N_FEATURES = 3


def targets(rng, output, n_samples, n_outputs, dtype):
    """Targets suited to the loss: reals, 0/1 labels, one-hot classes or counts."""
    if output == C.SQUARED_ERROR:
        Y = rng.normal(size=(n_samples, n_outputs))
    elif output == C.BINARY_LOG_LOSS:
        Y = rng.integers(0, 2, size=(n_samples, n_outputs))
    elif output == C.LOG_LOSS:
        Y = np.eye(n_outputs)[rng.integers(0, n_outputs, size=n_samples)]
    else:
        Y = rng.poisson(2.0, size=(n_samples, n_outputs))
    return Y.astype(dtype)


def make_problem(dtype, output, n_outputs, hidden_layer_sizes=(4,), n_samples=7, seed=0):
    """``X, Y, sw, sizes, theta`` of one dtype, with non-uniform sample weights and
    parameters small enough that no probability saturates."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, N_FEATURES)).astype(dtype)
    Y = targets(rng, output, n_samples, n_outputs, dtype)
    sw = rng.uniform(0.5, 2.0, size=n_samples).astype(dtype)
    sizes = layer_sizes(N_FEATURES, hidden_layer_sizes, n_outputs)
    theta = (0.5 * rng.normal(size=n_params(sizes))).astype(dtype)
    return X, Y, sw, sizes, theta


def make_scalars(solver=C.SGD, nesterov=False):
    """Hyper-parameters of :mod:`fastnn._codes` with scikit-learn-like values."""
    scalars = np.zeros(C.N_SCALARS)
    scalars[C.LR] = scalars[C.LR_INIT] = 0.1 if solver == C.SGD else 0.01
    scalars[C.MOMENTUM] = 0.9
    scalars[C.NESTEROV] = float(nesterov)
    scalars[C.BETA_1], scalars[C.BETA_2], scalars[C.EPSILON] = 0.9, 0.999, 1e-8
    scalars[C.ALPHA] = ALPHA
    return scalars


def numba_activations(work, sizes, n):
    """The layer activations the numba ``forward`` leaves in ``work`` (capacity ``n``):
    one block of ``n`` rows per layer, input layer excluded."""
    activations, start = [], 0
    for units in sizes[1:]:
        activations.append(work[start : start + n * units].reshape(n, units))
        start += n * units
    return activations


# --- Activations ---------------------------------------------------------------------


@DTYPES
@pytest.mark.parametrize("code", HIDDEN.values(), ids=HIDDEN.keys())
def test_activate(dtype, code):
    Z = (3 * np.random.default_rng(0).normal(size=(5, 4))).astype(dtype)
    Z[0, 0] = 0.0
    got, expected = Z.copy(), Z.copy()
    kernels.activate(got, code)
    reference.activate(expected, code)
    assert_allclose(got, expected, **TOLERANCE[dtype])


@DTYPES
@pytest.mark.parametrize("code", HIDDEN.values(), ids=HIDDEN.keys())
def test_activation_derivative(dtype, code):
    rng = np.random.default_rng(1)
    A = (3 * rng.normal(size=(5, 4))).astype(dtype)
    reference.activate(A, code)  # outputs of the activation: relu leaves exact zeros
    delta = rng.normal(size=(5, 4)).astype(dtype)
    got, expected = delta.copy(), delta.copy()
    kernels.activation_derivative(A, got, code)
    reference.activation_derivative(A, expected, code)
    assert_allclose(got, expected, **TOLERANCE[dtype])


@DTYPES
@pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())
def test_output_activate(dtype, loss):
    Z = (3 * np.random.default_rng(2).normal(size=(5, 3))).astype(dtype)
    got, expected = Z.copy(), Z.copy()
    kernels.output_activate(got, loss)
    reference.output_activate(expected, loss)
    assert_allclose(got, expected, **TOLERANCE[dtype])


# --- Losses ---------------------------------------------------------------------------


@DTYPES
@pytest.mark.parametrize("output", OUTPUTS)
def test_output_loss(dtype, output):
    output, n_outputs = OUTPUTS[output]
    rng = np.random.default_rng(3)
    A_out = rng.normal(size=(7, n_outputs)).astype(dtype)
    reference.output_activate(A_out, output)
    Y = targets(rng, output, 7, n_outputs, dtype)
    sw = rng.uniform(0.5, 2.0, size=7).astype(dtype)
    got = kernels.output_loss(A_out, Y, sw, output)
    expected = reference.output_loss(A_out, Y, sw, output)
    assert_allclose(got, expected, **TOLERANCE[dtype])


@DTYPES
@pytest.mark.parametrize("loss", [C.BINARY_LOG_LOSS, C.LOG_LOSS], ids=["binary", "multiclass"])
def test_output_loss_clips_saturated_probabilities(dtype, loss):
    # Probabilities of exactly 0 and 1, some on the wrong class: both clip to [eps, 1-eps].
    A_out = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.25, 0.25]], dtype=dtype)
    Y = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=dtype)
    sw = np.array([1.0, 2.0, 0.5], dtype=dtype)
    got = kernels.output_loss(A_out, Y, sw, loss)
    expected = reference.output_loss(A_out, Y, sw, loss)
    assert np.isfinite(got)
    assert_allclose(got, expected, **TOLERANCE[dtype])


@DTYPES
@pytest.mark.parametrize("hidden_layer_sizes", [(), (4,), (4, 3)], ids=["0", "1", "2"])
def test_penalty(dtype, hidden_layer_sizes):
    _, _, sw, sizes, theta = make_problem(dtype, C.SQUARED_ERROR, 2, hidden_layer_sizes)
    sw_sum = float(sw.sum())
    got = kernels.penalty(theta, sizes, ALPHA, sw_sum)
    expected = reference.penalty(unpack(theta, sizes)[0], ALPHA, sw_sum)
    assert_allclose(got, expected, **TOLERANCE[dtype])


# --- Forward and backward passes ---------------------------------------------------------


@DTYPES
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", OUTPUTS)
def test_forward(dtype, hidden, output):
    output, n_outputs = OUTPUTS[output]
    X, _, _, sizes, theta = make_problem(dtype, output, n_outputs, (4, 3))
    codes = np.array([HIDDEN[hidden], output, C.SGD], dtype=np.int64)
    work = np.zeros(work_size(sizes, X.shape[0], gather=False), dtype=dtype)
    kernels.forward(X, sizes, theta, codes, work)
    got = numba_activations(work, sizes, X.shape[0])
    expected = reference.forward(X, sizes, theta, codes)[1:]
    for got_layer, expected_layer in zip(got, expected, strict=True):
        assert_allclose(got_layer, expected_layer, **TOLERANCE[dtype])


@DTYPES
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", OUTPUTS)
def test_backward(dtype, hidden, output):
    output, n_outputs = OUTPUTS[output]
    X, Y, sw, sizes, theta = make_problem(dtype, output, n_outputs, (4, 3))
    codes = np.array([HIDDEN[hidden], output, C.SGD], dtype=np.int64)
    work = np.zeros(work_size(sizes, X.shape[0], gather=False), dtype=dtype)
    got = np.zeros_like(theta)
    kernels.forward(X, sizes, theta, codes, work)
    kernels.backward(X, Y, sw, sizes, theta, got, codes, ALPHA, work)
    expected = np.zeros_like(theta)
    activations = reference.forward(X, sizes, theta, codes)
    reference.backward(activations, Y, sw, sizes, theta, expected, codes, ALPHA)
    assert_allclose(got, expected, **TOLERANCE[dtype])


@DTYPES
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden_layer_sizes", [(), (4,), (4, 3)], ids=["0", "1", "2"])
def test_predict(dtype, hidden, output, hidden_layer_sizes):
    output, n_outputs = OUTPUTS[output]
    X, _, _, sizes, theta = make_problem(dtype, output, n_outputs, hidden_layer_sizes)
    codes = np.array([HIDDEN[hidden], output, C.SGD], dtype=np.int64)
    got = kernels.predict(X, sizes, theta, codes)
    expected = reference.predict(X, sizes, theta, codes)
    assert got.dtype == expected.dtype == dtype
    assert_allclose(got, expected, **TOLERANCE[dtype])


def batch_loss_grads(dtype, hidden, output, hidden_layer_sizes, capacity=None):
    """``(loss, grad)`` of the numba and of the numpy ``batch_loss_grad`` on one batch;
    the numba scratch vector has room for ``capacity`` rows (default: the batch)."""
    output, n_outputs = OUTPUTS[output]
    X, Y, sw, sizes, theta = make_problem(dtype, output, n_outputs, hidden_layer_sizes)
    codes = np.array([HIDDEN[hidden], output, C.SGD], dtype=np.int64)
    scalars = make_scalars()
    capacity = X.shape[0] if capacity is None else capacity
    work = np.zeros(work_size(sizes, capacity, gather=False), dtype=dtype)
    results = []
    for engine in (kernels, reference):
        grad = np.zeros_like(theta)
        loss = engine.batch_loss_grad(X, Y, sw, sizes, theta, grad, scalars, codes, work)
        results.append((loss, grad))
    return results


@DTYPES
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden_layer_sizes", [(4,), (4, 3)], ids=["1", "2"])
def test_batch_loss_grad(dtype, hidden, output, hidden_layer_sizes):
    (got_loss, got_grad), (expected_loss, expected_grad) = batch_loss_grads(
        dtype, hidden, output, hidden_layer_sizes
    )
    assert_allclose(got_loss, expected_loss, **TOLERANCE[dtype])
    assert_allclose(got_grad, expected_grad, **TOLERANCE[dtype])


@DTYPES
def test_batch_loss_grad_in_larger_workspace(dtype):
    # A batch shorter than the scratch vector's capacity (the last batch of an epoch).
    (got_loss, got_grad), (expected_loss, expected_grad) = batch_loss_grads(
        dtype, "tanh", "multiclass", (4, 3), capacity=20
    )
    assert_allclose(got_loss, expected_loss, **TOLERANCE[dtype])
    assert_allclose(got_grad, expected_grad, **TOLERANCE[dtype])


# --- Optimizer steps: numba against numpy -------------------------------------------------

N_STEPS = 4
N_PARAMS = 11


def gradients(dtype, n_steps=N_STEPS, seed=4):
    """One random gradient vector per step."""
    return np.random.default_rng(seed).normal(size=(n_steps, N_PARAMS)).astype(dtype)


def initial_theta(dtype, seed=5):
    return np.random.default_rng(seed).normal(size=N_PARAMS).astype(dtype)


@DTYPES
@pytest.mark.parametrize("nesterov", [False, True], ids=["momentum", "nesterov"])
def test_sgd_step(dtype, nesterov):
    scalars = make_scalars(C.SGD, nesterov)
    got_theta, expected_theta = initial_theta(dtype), initial_theta(dtype)
    got_velocity = np.zeros(N_PARAMS, dtype=dtype)
    expected_velocity = np.zeros(N_PARAMS, dtype=dtype)
    for grad in gradients(dtype):
        kernels.sgd_step(got_theta, grad, got_velocity, scalars)
        reference.sgd_step(expected_theta, grad, expected_velocity, scalars)
    assert_allclose(got_theta, expected_theta, **TOLERANCE[dtype])
    assert_allclose(got_velocity, expected_velocity, **TOLERANCE[dtype])


@DTYPES
def test_adam_step(dtype):
    got_scalars, expected_scalars = make_scalars(C.ADAM), make_scalars(C.ADAM)
    got_theta, expected_theta = initial_theta(dtype), initial_theta(dtype)
    got_m, got_v = np.zeros(N_PARAMS, dtype=dtype), np.zeros(N_PARAMS, dtype=dtype)
    expected_m, expected_v = np.zeros(N_PARAMS, dtype=dtype), np.zeros(N_PARAMS, dtype=dtype)
    for grad in gradients(dtype):
        kernels.adam_step(got_theta, grad, got_m, got_v, got_scalars)
        reference.adam_step(expected_theta, grad, expected_m, expected_v, expected_scalars)
    assert got_scalars[C.STEP] == expected_scalars[C.STEP] == N_STEPS
    # The scalars are float64 whatever the dtype: the rate is computed the same way.
    assert_allclose(got_scalars, expected_scalars, **TOLERANCE[np.float64])
    assert_allclose(got_theta, expected_theta, **TOLERANCE[dtype])
    assert_allclose(got_m, expected_m, **TOLERANCE[dtype])
    assert_allclose(got_v, expected_v, **TOLERANCE[dtype])


SOLVERS = {
    "sgd": (C.SGD, False),
    "sgd_nesterov": (C.SGD, True),
    "adam": (C.ADAM, False),
}


@DTYPES
@pytest.mark.parametrize("solver", SOLVERS)
def test_optimizer_step(dtype, solver):
    solver, nesterov = SOLVERS[solver]
    codes = np.array([C.TANH, C.LOG_LOSS, solver], dtype=np.int64)
    n_state = (2 if solver == C.ADAM else 1) * N_PARAMS
    got_scalars, expected_scalars = make_scalars(solver, nesterov), make_scalars(solver, nesterov)
    got_theta, expected_theta = initial_theta(dtype), initial_theta(dtype)
    got_state, expected_state = np.zeros(n_state, dtype=dtype), np.zeros(n_state, dtype=dtype)
    for grad in gradients(dtype):
        kernels.optimizer_step(got_theta, grad, got_state, got_scalars, codes)
        reference.optimizer_step(expected_theta, grad, expected_state, expected_scalars, codes)
    assert_allclose(got_scalars, expected_scalars, **TOLERANCE[np.float64])
    assert_allclose(got_theta, expected_theta, **TOLERANCE[dtype])
    assert_allclose(got_state, expected_state, **TOLERANCE[dtype])


# --- One epoch ----------------------------------------------------------------------------

N_EPOCH_ROWS = 10
# (batch size, rows): 3 and 4 leave a short last batch; a subset of rows, with a repeat.
BATCHES = {
    "bs1": (1, np.arange(N_EPOCH_ROWS)),
    "bs3_last_1": (3, np.arange(N_EPOCH_ROWS)),
    "bs4_last_2": (4, np.arange(N_EPOCH_ROWS)),
    "bs10_one_batch": (10, np.arange(N_EPOCH_ROWS)),
    "bs2_subset": (2, np.array([7, 2, 2, 5, 0])),
}


@DTYPES
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("batches", BATCHES)
def test_run_epoch(dtype, solver, batches):
    solver, nesterov = SOLVERS[solver]
    batch_size, rows = BATCHES[batches]
    X, Y, sw, sizes, theta = make_problem(dtype, C.LOG_LOSS, 3, (4,), n_samples=N_EPOCH_ROWS)
    codes = np.array([C.TANH, C.LOG_LOSS, solver], dtype=np.int64)
    n_state = (2 if solver == C.ADAM else 1) * theta.shape[0]
    rng = np.random.default_rng(6)
    orders = [rng.permutation(rows).astype(np.int64) for _ in range(2)]  # two epochs
    results = []
    for engine in (kernels, reference):
        t, scalars = theta.copy(), make_scalars(solver, nesterov)
        grad, state = np.zeros_like(theta), np.zeros(n_state, dtype=dtype)
        work = np.zeros(work_size(sizes, batch_size), dtype=dtype)
        totals = [
            engine.run_epoch(X, Y, sw, idx, batch_size, sizes, t, grad, state, scalars, codes, work)
            for idx in orders
        ]
        results.append((totals, t, grad, state, scalars))
    (got_totals, got_theta, got_grad, got_state, got_scalars), expected = results
    expected_totals, expected_theta, expected_grad, expected_state, expected_scalars = expected
    assert_allclose(got_totals, expected_totals, **TOLERANCE[dtype])
    assert_allclose(got_theta, expected_theta, **TOLERANCE[dtype])
    assert_allclose(got_grad, expected_grad, **TOLERANCE[dtype])
    assert_allclose(got_state, expected_state, **TOLERANCE[dtype])
    assert_allclose(got_scalars, expected_scalars, **TOLERANCE[np.float64])


# --- Optimizer steps: both engines against the papers' formulas -----------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_sgd_momentum_formula(engine):
    # Polyak's heavy ball, as scikit-learn writes it: v_t = mu v_{t-1} - lr g_t;
    # theta_t = theta_{t-1} + v_t.
    scalars = make_scalars(C.SGD, nesterov=False)
    lr, mu = scalars[C.LR], scalars[C.MOMENTUM]
    got, velocity = initial_theta(np.float64), np.zeros(N_PARAMS)
    expected, expected_velocity = initial_theta(np.float64), np.zeros(N_PARAMS)
    for grad in gradients(np.float64):
        ENGINES[engine].sgd_step(got, grad, velocity, scalars)
        expected_velocity = mu * expected_velocity - lr * grad
        expected = expected + expected_velocity
    assert_allclose(got, expected, **TOLERANCE[np.float64])
    assert_allclose(velocity, expected_velocity, **TOLERANCE[np.float64])


@pytest.mark.parametrize("engine", ENGINES)
def test_nesterov_formula(engine):
    # Nesterov's momentum (Sutskever et al., ICML 2013), in the form that keeps theta at
    # the look-ahead point: v_t = mu v_{t-1} - lr g_t; theta_t = theta_{t-1} + mu v_t - lr g_t.
    scalars = make_scalars(C.SGD, nesterov=True)
    lr, mu = scalars[C.LR], scalars[C.MOMENTUM]
    got, velocity = initial_theta(np.float64), np.zeros(N_PARAMS)
    expected, expected_velocity = initial_theta(np.float64), np.zeros(N_PARAMS)
    for grad in gradients(np.float64):
        ENGINES[engine].sgd_step(got, grad, velocity, scalars)
        expected_velocity = mu * expected_velocity - lr * grad
        expected = expected + mu * expected_velocity - lr * grad
    assert_allclose(got, expected, **TOLERANCE[np.float64])
    assert_allclose(velocity, expected_velocity, **TOLERANCE[np.float64])


@pytest.mark.parametrize("engine", ENGINES)
def test_adam_formula(engine):
    # Adam (Kingma and Ba, arXiv 1412.6980), with the bias correction in the step size
    # as at the end of the paper's section 2: m_t = b1 m + (1 - b1) g,
    # v_t = b2 v + (1 - b2) g**2, lr_t = lr sqrt(1 - b2**t) / (1 - b1**t),
    # theta_t = theta_{t-1} - lr_t m_t / (sqrt(v_t) + eps).
    scalars = make_scalars(C.ADAM)
    lr, eps = scalars[C.LR_INIT], scalars[C.EPSILON]
    b1, b2 = scalars[C.BETA_1], scalars[C.BETA_2]
    got, m, v = initial_theta(np.float64), np.zeros(N_PARAMS), np.zeros(N_PARAMS)
    expected, expected_m = initial_theta(np.float64), np.zeros(N_PARAMS)
    expected_v = np.zeros(N_PARAMS)
    for t, grad in enumerate(gradients(np.float64), start=1):
        ENGINES[engine].adam_step(got, grad, m, v, scalars)
        expected_m = b1 * expected_m + (1 - b1) * grad
        expected_v = b2 * expected_v + (1 - b2) * grad**2
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        expected = expected - lr_t * expected_m / (np.sqrt(expected_v) + eps)
        assert scalars[C.STEP] == t
        assert_allclose(scalars[C.LR], lr_t, **TOLERANCE[np.float64])
    assert_allclose(got, expected, **TOLERANCE[np.float64])
    assert_allclose(m, expected_m, **TOLERANCE[np.float64])
    assert_allclose(v, expected_v, **TOLERANCE[np.float64])
