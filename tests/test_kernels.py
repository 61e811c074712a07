"""Every Numba kernel equals its NumPy twin in :mod:`fastnn.reference`, in both dtypes.

Dropout is held to more than closeness: both engines draw their masks from the same
counter-based generator, so the units they zero are exactly the same.

The second half re-derives the optimizer updates and the learning-rate schedules in
plain NumPy from the papers' formulas (as scikit-learn's ``test_stochastic_optimizers.py``
does) and holds both engines to them over several steps.
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
    "leaky_relu": C.LEAKY_RELU,
}
# (output/loss code, number of outputs)
OUTPUTS = {
    "squared_error": (C.SQUARED_ERROR, 1),
    "squared_error_3_outputs": (C.SQUARED_ERROR, 3),
    "binary": (C.BINARY_LOG_LOSS, 1),
    "multilabel": (C.BINARY_LOG_LOSS, 3),
    "multiclass": (C.LOG_LOSS, 3),
    "poisson": (C.POISSON, 2),
    "huber": (C.HUBER, 2),
    "absolute_error": (C.ABSOLUTE_ERROR, 2),
}
LOSSES = {
    "squared_error": C.SQUARED_ERROR,
    "binary_log_loss": C.BINARY_LOG_LOSS,
    "log_loss": C.LOG_LOSS,
    "poisson": C.POISSON,
    "huber": C.HUBER,
    "absolute_error": C.ABSOLUTE_ERROR,
}
# Dropout rates of the hidden layers of a (4, 3) network: none, or some of each.
DROPOUT = {"no_dropout": (), "dropout": (0.3, 0.5)}
DROPOUT_SEED = 1234

ALPHA = 0.3
WEIGHT_DECAY = 0.05
N_FEATURES = 3

# The optimizer tests step a vector of N_PARAMS entries: N_WEIGHTS "weights", then biases.
N_STEPS = 4
N_PARAMS = 11
N_WEIGHTS = 7


def targets(rng, output, n_samples, n_outputs, dtype):
    """Targets suited to the loss: reals, 0/1 labels, one-hot classes or counts.

    The robust losses get targets spread widely enough that residuals fall on both
    sides of Huber's threshold.
    """
    if output == C.SQUARED_ERROR:
        Y = rng.normal(size=(n_samples, n_outputs))
    elif output in (C.HUBER, C.ABSOLUTE_ERROR):
        Y = 2 * rng.normal(size=(n_samples, n_outputs))
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


def assert_scalars_close(got, expected, **tolerance):
    """``hyper`` within ``tolerance``, ``counts`` exactly."""
    assert_allclose(got[0], expected[0], **tolerance)
    np.testing.assert_array_equal(got[1], expected[1])


def make_scalars(solver=C.SGD, nesterov=False, n_weights=N_WEIGHTS, rates=()):
    """Hyper-parameters of :mod:`fastnn._codes` with scikit-learn-like values, and one
    dropout rate per hidden layer after the fixed slots (as the estimators lay them out).

    ``n_weights`` is how many leading entries of ``theta`` AdamW decays.
    """
    scalars = C.new_scalars(len(rates))
    hyper, counts = scalars
    hyper[C.LR] = hyper[C.LR_INIT] = hyper[C.RATE] = 0.1 if solver == C.SGD else 0.01
    hyper[C.MOMENTUM] = 0.9
    counts[C.NESTEROV] = nesterov
    hyper[C.BETA_1], hyper[C.BETA_2], hyper[C.EPSILON] = 0.9, 0.999, 1e-8
    hyper[C.ALPHA] = ALPHA
    hyper[C.WEIGHT_DECAY] = WEIGHT_DECAY
    counts[C.N_WEIGHTS] = n_weights
    counts[C.DROPOUT_SEED] = DROPOUT_SEED
    hyper[C.DROPOUT : C.DROPOUT + len(rates)] = rates
    return scalars


def weight_count(sizes):
    """Number of weights (the leading entries of ``theta``) of a network."""
    return int(np.sum(sizes[:-1] * sizes[1:]))


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


@pytest.mark.parametrize("engine", ENGINES)
def test_leaky_relu_by_hand(engine):
    # Slope LEAKY_SLOPE = 0.01 below zero, 1 above; the derivative is read from the sign
    # of the output, which leaky_relu keeps.
    Z = np.array([[-2.0, -0.5, 0.0, 1.5]])
    ENGINES[engine].activate(Z, C.LEAKY_RELU)
    assert_allclose(Z, [[-0.02, -0.005, 0.0, 1.5]], **TOLERANCE[np.float64])
    delta = np.array([[3.0, 3.0, 3.0, 3.0]])
    ENGINES[engine].activation_derivative(Z, delta, C.LEAKY_RELU)
    assert_allclose(delta, [[0.03, 0.03, 3.0, 3.0]], **TOLERANCE[np.float64])


@DTYPES
@pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())
def test_output_activate(dtype, loss):
    Z = (3 * np.random.default_rng(2).normal(size=(5, 3))).astype(dtype)
    got, expected = Z.copy(), Z.copy()
    kernels.output_activate(got, loss)
    reference.output_activate(expected, loss)
    assert_allclose(got, expected, **TOLERANCE[dtype])


# --- Dropout ---------------------------------------------------------------------------

RATES = pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
DROPOUT_SHAPE = (20, 16)


def dropout_scalars(p, layer, batch_count=3):
    """Scalars whose hidden layer ``layer`` drops out at rate ``p`` (earlier layers too)."""
    scalars = make_scalars(rates=[p] * (layer + 1))
    hyper, counts = scalars
    counts[C.BATCH_COUNT] = batch_count
    return scalars


def dropped(A, p, scalars, layer, engine=reference):
    """Which units ``engine.dropout`` zeroes in a block shaped like ``A`` (of ones, so
    that only dropout makes a zero)."""
    ones = np.ones(A.shape, dtype=A.dtype)
    engine.dropout(ones, p, scalars, layer)
    return ones == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_dropout_rate(engine):
    # One rate per hidden layer from slot DROPOUT on; a layer past the end has none.
    rate = ENGINES[engine].dropout_rate
    scalars = C.new_scalars(2)
    hyper, counts = scalars
    hyper[C.DROPOUT :] = 0.3, 0.5
    got = [rate(scalars, 0), rate(scalars, 1), rate(scalars, 2), rate(make_scalars(), 0)]
    assert got == [0.3, 0.5, 0.0, 0.0]


@DTYPES
@RATES
@pytest.mark.parametrize("layer", [0, 2])
def test_dropout(dtype, p, layer):
    A = np.random.default_rng(7).uniform(0.5, 2.0, size=DROPOUT_SHAPE).astype(dtype)
    scalars = dropout_scalars(p, layer)
    p = reference.dropout_rate(scalars, layer)  # a float64, as the forward passes hand it
    got, expected = A.copy(), A.copy()
    kernels.dropout(got, p, scalars, layer)
    reference.dropout(expected, p, scalars, layer)
    np.testing.assert_array_equal(got == 0, expected == 0)
    assert 0 < np.mean(expected == 0) < 1
    assert_allclose(got, expected, **TOLERANCE[dtype])


@pytest.mark.parametrize("engine", ENGINES)
@RATES
def test_dropout_is_inverted_dropout(engine, p):
    # About a share p of the units are zeroed (within 5 binomial standard deviations),
    # the others are scaled by 1 / (1 - p), so that the expected output is unchanged.
    n_rows, n_units = 400, 50
    got = np.ones((n_rows, n_units))
    ENGINES[engine].dropout(got, p, dropout_scalars(p, 0), 0)
    kept = got != 0
    share = 1 - kept.mean()
    assert abs(share - p) < 5 * np.sqrt(p * (1 - p) / got.size)
    assert_allclose(got[kept], 1 / (1 - p), **TOLERANCE[np.float64])


@pytest.mark.parametrize("engine", ENGINES)
def test_dropout_mask_is_a_function_of_seed_batch_layer_row_and_unit(engine):
    engine = ENGINES[engine]
    A = np.ones(DROPOUT_SHAPE)
    p, layer = 0.5, 1
    scalars = dropout_scalars(p, layer)
    mask = dropped(A, p, scalars, layer, engine)
    # Recomputed, not stored: the same counters give the same mask.
    np.testing.assert_array_equal(dropped(A, p, scalars, layer, engine), mask)
    # A shorter batch (the last of an epoch) sees the first rows of the same mask.
    np.testing.assert_array_equal(dropped(A[:5], p, scalars, layer, engine), mask[:5])
    # Another batch, layer or seed draws another mask.
    next_batch = C.copy_scalars(scalars)
    next_batch[1][C.BATCH_COUNT] += 1
    other_seed = C.copy_scalars(scalars)
    other_seed[1][C.DROPOUT_SEED] += 1
    for other in (
        dropped(A, p, next_batch, layer, engine),
        dropped(A, p, scalars, layer + 1, engine),
        dropped(A, p, other_seed, layer, engine),
    ):
        assert not np.array_equal(other, mask)


@DTYPES
@pytest.mark.parametrize("code", HIDDEN.values(), ids=HIDDEN.keys())
@RATES
def test_dropout_derivative(dtype, code, p):
    rng = np.random.default_rng(8)
    layer = 1
    scalars = dropout_scalars(p, layer)
    p = reference.dropout_rate(scalars, layer)
    A = (3 * rng.normal(size=DROPOUT_SHAPE)).astype(dtype)
    reference.activate(A, code)
    reference.dropout(A, p, scalars, layer)  # the stored outputs, after dropout
    delta = rng.normal(size=DROPOUT_SHAPE).astype(dtype)
    got, expected = delta.copy(), delta.copy()
    kernels.dropout_derivative(A, got, code, p, scalars, layer)
    reference.dropout_derivative(A, expected, code, p, scalars, layer)
    np.testing.assert_array_equal(got == 0, expected == 0)
    # The forward pass's dropped units pass no gradient back.
    assert np.all(got[dropped(A, p, scalars, layer)] == 0)
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
@pytest.mark.parametrize("output", OUTPUTS)
def test_output_delta(dtype, output):
    output, n_outputs = OUTPUTS[output]
    rng = np.random.default_rng(9)
    A_out = rng.normal(size=(7, n_outputs)).astype(dtype)
    reference.output_activate(A_out, output)
    Y = targets(rng, output, 7, n_outputs, dtype)
    if output in (C.SQUARED_ERROR, C.HUBER, C.ABSOLUTE_ERROR):
        A_out[0, 0] = Y[0, 0]  # a zero residual: absolute error's sign is 0 there
    sw = rng.uniform(0.5, 2.0, size=7).astype(dtype)
    got = np.empty_like(A_out)
    kernels.output_delta(A_out, Y, sw, output, got)
    expected = reference.output_delta(A_out, Y, sw, output)
    assert expected.dtype == dtype
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
@pytest.mark.parametrize("dropout", DROPOUT)
def test_forward(dtype, hidden, output, dropout):
    output, n_outputs = OUTPUTS[output]
    X, _, _, sizes, theta = make_problem(dtype, output, n_outputs, (4, 3))
    codes = np.array([HIDDEN[hidden], output, C.SGD], dtype=np.int64)
    scalars = make_scalars(rates=DROPOUT[dropout])
    work = np.zeros(work_size(sizes, X.shape[0], gather=False), dtype=dtype)
    kernels.forward(X, (sizes, codes), theta, scalars, work)
    got = numba_activations(work, sizes, X.shape[0])
    expected = reference.forward(X, (sizes, codes), theta, scalars)[1:]
    for got_layer, expected_layer in zip(got[:-1], expected[:-1], strict=True):
        np.testing.assert_array_equal(got_layer == 0, expected_layer == 0)
    for got_layer, expected_layer in zip(got, expected, strict=True):
        assert_allclose(got_layer, expected_layer, **TOLERANCE[dtype])


@DTYPES
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("dropout", DROPOUT)
def test_backward(dtype, hidden, output, dropout):
    output, n_outputs = OUTPUTS[output]
    X, Y, sw, sizes, theta = make_problem(dtype, output, n_outputs, (4, 3))
    codes = np.array([HIDDEN[hidden], output, C.SGD], dtype=np.int64)
    scalars = make_scalars(rates=DROPOUT[dropout])
    work = np.zeros(work_size(sizes, X.shape[0], gather=False), dtype=dtype)
    got = np.zeros_like(theta)
    network = (sizes, codes)
    kernels.forward(X, network, theta, scalars, work)
    kernels.backward(X, Y, sw, network, theta, got, scalars, work)
    expected = np.zeros_like(theta)
    activations = reference.forward(X, network, theta, scalars)
    reference.backward(activations, Y, sw, network, theta, expected, scalars)
    assert_allclose(got, expected, **TOLERANCE[dtype])


@pytest.mark.parametrize("engine", ENGINES)
def test_backward_reads_alpha_from_scalars(engine):
    # The penalty's gradient alpha W / sum(sw) is the only difference alpha makes.
    X, Y, sw, sizes, theta = make_problem(np.float64, C.SQUARED_ERROR, 1, (4,))
    codes = np.array([C.TANH, C.SQUARED_ERROR, C.SGD], dtype=np.int64)
    grads = []
    for alpha in (0.0, ALPHA):
        scalars = make_scalars()
        scalars[0][C.ALPHA] = alpha
        work = np.zeros(work_size(sizes, X.shape[0], gather=False))
        grad = np.zeros_like(theta)
        ENGINES[engine].batch_loss_grad(X, Y, sw, (sizes, codes), theta, grad, scalars, work)
        grads.append(grad)
    n_weights = weight_count(sizes)
    got = grads[1] - grads[0]
    expected = np.zeros_like(theta)
    expected[:n_weights] = ALPHA * theta[:n_weights] / sw.sum()
    assert_allclose(got, expected, rtol=1e-9, atol=1e-15)


@DTYPES
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden_layer_sizes", [(), (4,), (4, 3)], ids=["0", "1", "2"])
def test_predict(dtype, hidden, output, hidden_layer_sizes):
    output, n_outputs = OUTPUTS[output]
    X, _, _, sizes, theta = make_problem(dtype, output, n_outputs, hidden_layer_sizes)
    codes = np.array([HIDDEN[hidden], output, C.SGD], dtype=np.int64)
    got = kernels.predict(X, (sizes, codes), theta)
    expected = reference.predict(X, (sizes, codes), theta)
    assert got.dtype == expected.dtype == dtype
    assert_allclose(got, expected, **TOLERANCE[dtype])


def batch_loss_grads(dtype, hidden, output, hidden_layer_sizes, capacity=None, rates=()):
    """``(loss, grad)`` of the numba and of the numpy ``batch_loss_grad`` on one batch;
    the numba scratch vector has room for ``capacity`` rows (default: the batch)."""
    output, n_outputs = OUTPUTS[output]
    X, Y, sw, sizes, theta = make_problem(dtype, output, n_outputs, hidden_layer_sizes)
    codes = np.array([HIDDEN[hidden], output, C.SGD], dtype=np.int64)
    scalars = make_scalars(rates=rates)
    capacity = X.shape[0] if capacity is None else capacity
    work = np.zeros(work_size(sizes, capacity, gather=False), dtype=dtype)
    results = []
    for engine in (kernels, reference):
        grad = np.zeros_like(theta)
        loss = engine.batch_loss_grad(X, Y, sw, (sizes, codes), theta, grad, scalars, work)
        results.append((loss, grad))
    return results


@DTYPES
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden_layer_sizes", [(4,), (4, 3)], ids=["1", "2"])
@pytest.mark.parametrize("dropout", DROPOUT)
def test_batch_loss_grad(dtype, hidden, output, hidden_layer_sizes, dropout):
    rates = DROPOUT[dropout][: len(hidden_layer_sizes)]
    (got_loss, got_grad), (expected_loss, expected_grad) = batch_loss_grads(
        dtype, hidden, output, hidden_layer_sizes, rates=rates
    )
    assert_allclose(got_loss, expected_loss, **TOLERANCE[dtype])
    assert_allclose(got_grad, expected_grad, **TOLERANCE[dtype])


@DTYPES
@pytest.mark.parametrize("dropout", DROPOUT)
def test_batch_loss_grad_in_larger_workspace(dtype, dropout):
    # A batch shorter than the scratch vector's capacity (the last batch of an epoch).
    (got_loss, got_grad), (expected_loss, expected_grad) = batch_loss_grads(
        dtype, "tanh", "multiclass", (4, 3), capacity=20, rates=DROPOUT[dropout]
    )
    assert_allclose(got_loss, expected_loss, **TOLERANCE[dtype])
    assert_allclose(got_grad, expected_grad, **TOLERANCE[dtype])


# --- Optimizer steps: numba against numpy -------------------------------------------------


def gradients(dtype, n_steps=N_STEPS, seed=4):
    """One random gradient vector per step."""
    return np.random.default_rng(seed).normal(size=(n_steps, N_PARAMS)).astype(dtype)


def initial_theta(dtype, seed=5):
    return np.random.default_rng(seed).normal(size=N_PARAMS).astype(dtype)


def zero_moments(dtype, count):
    """``count`` fresh moment vectors for each engine: ``(got, expected)``."""
    return (
        [np.zeros(N_PARAMS, dtype=dtype) for _ in range(count)],
        [np.zeros(N_PARAMS, dtype=dtype) for _ in range(count)],
    )


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


# (step function name, solver code, number of moment vectors)
ADAPTIVE_STEPS = {
    "adam_step": (C.ADAM, 2),
    "adamw_step": (C.ADAMW, 2),
    "rmsprop_step": (C.RMSPROP, 1),
}


@DTYPES
@pytest.mark.parametrize("step", ADAPTIVE_STEPS)
def test_adaptive_step(dtype, step):
    solver, n_moments = ADAPTIVE_STEPS[step]
    got_scalars, expected_scalars = make_scalars(solver), make_scalars(solver)
    got_theta, expected_theta = initial_theta(dtype), initial_theta(dtype)
    got_moments, expected_moments = zero_moments(dtype, n_moments)
    for grad in gradients(dtype):
        getattr(kernels, step)(got_theta, grad, *got_moments, got_scalars)
        getattr(reference, step)(expected_theta, grad, *expected_moments, expected_scalars)
    # The scalars are float64 whatever the dtype: the rate is computed the same way.
    assert_scalars_close(got_scalars, expected_scalars, **TOLERANCE[np.float64])
    assert_allclose(got_theta, expected_theta, **TOLERANCE[dtype])
    for got_moment, expected_moment in zip(got_moments, expected_moments, strict=True):
        assert_allclose(got_moment, expected_moment, **TOLERANCE[dtype])


@DTYPES
def test_adam_step_counts(dtype):
    got_scalars, expected_scalars = make_scalars(C.ADAM), make_scalars(C.ADAM)
    got_moments, expected_moments = zero_moments(dtype, 2)
    for grad in gradients(dtype):
        kernels.adam_step(initial_theta(dtype), grad, *got_moments, got_scalars)
        reference.adam_step(initial_theta(dtype), grad, *expected_moments, expected_scalars)
    assert got_scalars[1][C.STEP] == expected_scalars[1][C.STEP] == N_STEPS


SOLVERS = {
    "sgd": (C.SGD, False),
    "sgd_nesterov": (C.SGD, True),
    "adam": (C.ADAM, False),
    "rmsprop": (C.RMSPROP, False),
    "adamw": (C.ADAMW, False),
}


@DTYPES
@pytest.mark.parametrize("solver", SOLVERS)
def test_optimizer_step(dtype, solver):
    solver, nesterov = SOLVERS[solver]
    codes = np.array([C.TANH, C.LOG_LOSS, solver], dtype=np.int64)
    n_state = C.MOMENTS[solver] * N_PARAMS
    got_scalars, expected_scalars = make_scalars(solver, nesterov), make_scalars(solver, nesterov)
    got_theta, expected_theta = initial_theta(dtype), initial_theta(dtype)
    got_state, expected_state = np.zeros(n_state, dtype=dtype), np.zeros(n_state, dtype=dtype)
    for grad in gradients(dtype):
        kernels.optimizer_step(got_theta, grad, got_state, got_scalars, codes)
        reference.optimizer_step(expected_theta, grad, expected_state, expected_scalars, codes)
    assert_scalars_close(got_scalars, expected_scalars, **TOLERANCE[np.float64])
    assert_allclose(got_theta, expected_theta, **TOLERANCE[dtype])
    assert_allclose(got_state, expected_state, **TOLERANCE[dtype])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("solver", SOLVERS)
def test_optimizer_step_dispatches(engine, solver):
    # optimizer_step with a solver's code is that solver's own step on the state's
    # leading moment vectors.
    solver, nesterov = SOLVERS[solver]
    engine = ENGINES[engine]
    step = {
        C.SGD: engine.sgd_step,
        C.ADAM: engine.adam_step,
        C.RMSPROP: engine.rmsprop_step,
        C.ADAMW: engine.adamw_step,
    }[solver]
    codes = np.array([C.TANH, C.LOG_LOSS, solver], dtype=np.int64)
    n_moments = C.MOMENTS[solver]
    got_scalars, expected_scalars = make_scalars(solver, nesterov), make_scalars(solver, nesterov)
    got, expected = initial_theta(np.float64), initial_theta(np.float64)
    state = np.zeros(n_moments * N_PARAMS)
    moments = [np.zeros(N_PARAMS) for _ in range(n_moments)]
    for grad in gradients(np.float64):
        engine.optimizer_step(got, grad, state, got_scalars, codes)
        step(expected, grad, *moments, expected_scalars)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(state, np.concatenate(moments))
    assert_scalars_close(got_scalars, expected_scalars, rtol=0, atol=0)


# --- One epoch, and several -----------------------------------------------------------------

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
    n_state = C.MOMENTS[solver] * theta.shape[0]
    rng = np.random.default_rng(6)
    orders = [rng.permutation(rows).astype(np.int64) for _ in range(2)]  # two epochs
    results = []
    for engine in (kernels, reference):
        t = theta.copy()
        scalars = make_scalars(solver, nesterov, n_weights=weight_count(sizes))
        grad, state = np.zeros_like(theta), np.zeros(n_state, dtype=dtype)
        work = np.zeros(work_size(sizes, batch_size), dtype=dtype)
        network, params = (sizes, codes), (t, grad, state)
        totals = [
            engine.run_epoch((X, Y, sw, idx), batch_size, network, params, scalars, work)
            for idx in orders
        ]
        results.append((totals, t, grad, state, scalars))
    (got_totals, got_theta, got_grad, got_state, got_scalars), expected = results
    expected_totals, expected_theta, expected_grad, expected_state, expected_scalars = expected
    n_batches = 2 * -(-rows.shape[0] // batch_size)
    assert got_scalars[1][C.BATCH_COUNT] == expected_scalars[1][C.BATCH_COUNT] == n_batches
    assert_allclose(got_totals, expected_totals, **TOLERANCE[dtype])
    assert_allclose(got_theta, expected_theta, **TOLERANCE[dtype])
    assert_allclose(got_grad, expected_grad, **TOLERANCE[dtype])
    assert_allclose(got_state, expected_state, **TOLERANCE[dtype])
    assert_scalars_close(got_scalars, expected_scalars, **TOLERANCE[np.float64])


N_EPOCHS = 3
SCHEDULES = {"constant": C.CONSTANT, "cosine": C.COSINE, "step": C.STEP_DECAY}


def epochs_scalars(solver, nesterov, sizes, rates, schedule, batch_size):
    """Scalars for :func:`run_epochs`: shuffled mini-batches, the stopping rule on."""
    scalars = make_scalars(solver, nesterov, n_weights=weight_count(sizes), rates=rates)
    hyper, counts = scalars
    counts[C.BATCH_SIZE] = batch_size
    counts[C.SHUFFLE] = 1
    counts[C.MONITOR] = 1
    hyper[C.BEST] = np.inf
    hyper[C.TOL] = 1e-4
    hyper[C.N_ITER_NO_CHANGE] = 10
    counts[C.SCHEDULE] = schedule
    counts[C.HORIZON] = 2
    return scalars


@DTYPES
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("dropout", DROPOUT)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_run_epochs(dtype, solver, dropout, schedule):
    solver, nesterov = SOLVERS[solver]
    batch_size = 3
    X, Y, sw, sizes, theta = make_problem(dtype, C.LOG_LOSS, 3, (4, 3), n_samples=N_EPOCH_ROWS)
    codes = np.array([C.LEAKY_RELU, C.LOG_LOSS, solver], dtype=np.int64)
    results = []
    for engine in (kernels, reference):
        t = theta.copy()
        scalars = epochs_scalars(
            solver, nesterov, sizes, DROPOUT[dropout], SCHEDULES[schedule], batch_size
        )
        grad = np.zeros_like(theta)
        state = np.zeros((C.MOMENTS[solver] + 1) * theta.shape[0], dtype=dtype)
        work = np.zeros(work_size(sizes, batch_size), dtype=dtype)
        idx = np.arange(N_EPOCH_ROWS, dtype=np.int64)
        _, key, pos = np.random.RandomState(0).get_state()[:3]
        rng_state = np.append(key, pos).astype(np.uint32)
        losses = np.zeros(N_EPOCHS)
        done = engine.run_epochs(
            (X, Y, sw, idx), (sizes, codes), (t, grad, state), scalars, work, rng_state, losses
        )
        results.append((done, losses, t, state, scalars, idx, rng_state))
    got, expected = results
    assert got[0] == expected[0] == N_EPOCHS
    assert got[4][1][C.BATCH_COUNT] == expected[4][1][C.BATCH_COUNT] == N_EPOCHS * 4
    np.testing.assert_array_equal(got[5], expected[5])  # the same shuffles
    np.testing.assert_array_equal(got[6], expected[6])
    for name, got_array, expected_array in zip(
        ["losses", "theta", "state"], got[1:4], expected[1:4], strict=True
    ):
        assert_allclose(got_array, expected_array, **TOLERANCE[dtype], err_msg=name)
    # The scalars are float64, but the best loss among them was computed in the dtype.
    got_scalars, expected_scalars = C.copy_scalars(got[4]), C.copy_scalars(expected[4])
    assert_allclose(got_scalars[0][C.BEST], expected_scalars[0][C.BEST], **TOLERANCE[dtype])
    got_scalars[0][C.BEST] = expected_scalars[0][C.BEST] = 0.0
    assert_scalars_close(got_scalars, expected_scalars, **TOLERANCE[np.float64], err_msg="scalars")


# --- Between epochs ----------------------------------------------------------------------

EPOCH_END_SCHEDULES = {
    "constant": C.CONSTANT,
    "invscaling": C.INVSCALING,
    "adaptive": C.ADAPTIVE,
    "cosine": C.COSINE,
    "step": C.STEP_DECAY,
}
# Epoch values (losses, or minus validation scores) that improve, then stall long enough
# for the adaptive schedule to divide its rate and for the others to stop.
EPOCH_VALUES = [1.0, 0.8, 0.7, 0.7, 0.69999, 0.7, 0.7, 0.5, 0.5, 0.5, 0.5]


def schedule_scalars(schedule, horizon=4, lr_init=0.1):
    scalars = make_scalars()
    hyper, counts = scalars
    hyper[C.LR] = hyper[C.LR_INIT] = hyper[C.RATE] = lr_init
    counts[C.SCHEDULE] = schedule
    counts[C.HORIZON] = horizon
    hyper[C.POWER_T] = 0.5
    counts[C.SEEN] = 50
    hyper[C.BEST] = np.inf
    hyper[C.TOL] = 1e-4
    hyper[C.N_ITER_NO_CHANGE] = 2
    return scalars


@pytest.mark.parametrize("schedule", EPOCH_END_SCHEDULES)
def test_epoch_end(schedule):
    got = schedule_scalars(EPOCH_END_SCHEDULES[schedule])
    expected = schedule_scalars(EPOCH_END_SCHEDULES[schedule])
    for epoch, value in enumerate(EPOCH_VALUES, start=1):
        kernels.epoch_end(got, value)
        reference.epoch_end(expected, value)
        assert got[1][C.EPOCH] == epoch
        assert_scalars_close(got, expected, **TOLERANCE[np.float64], err_msg=f"epoch {epoch}")
    assert got[1][C.STOP] == (C.RUNNING if schedule == "adaptive" else C.CONVERGED)


# --- Optimizer steps and schedules: both engines against the papers' formulas ----------------


@pytest.mark.parametrize("engine", ENGINES)
def test_sgd_momentum_formula(engine):
    # Polyak's heavy ball, as scikit-learn writes it: v_t = mu v_{t-1} - lr g_t;
    # theta_t = theta_{t-1} + v_t.
    scalars = make_scalars(C.SGD, nesterov=False)
    hyper, counts = scalars
    lr, mu = hyper[C.LR], hyper[C.MOMENTUM]
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
    hyper, counts = scalars
    lr, mu = hyper[C.LR], hyper[C.MOMENTUM]
    got, velocity = initial_theta(np.float64), np.zeros(N_PARAMS)
    expected, expected_velocity = initial_theta(np.float64), np.zeros(N_PARAMS)
    for grad in gradients(np.float64):
        ENGINES[engine].sgd_step(got, grad, velocity, scalars)
        expected_velocity = mu * expected_velocity - lr * grad
        expected = expected + mu * expected_velocity - lr * grad
    assert_allclose(got, expected, **TOLERANCE[np.float64])
    assert_allclose(velocity, expected_velocity, **TOLERANCE[np.float64])


def adaptive_scalars(solver):
    """Scalars for the Adam family's formula tests. They step with the scheduled rate
    ``hyper[RATE]``; ``lr_init`` (and, except where Adam writes it, ``lr``) is NaN,
    so reading either would poison the result."""
    scalars = make_scalars(solver)
    hyper, counts = scalars
    hyper[C.RATE] = 0.02
    hyper[C.LR_INIT] = hyper[C.LR] = np.nan
    return scalars


@pytest.mark.parametrize("engine", ENGINES)
def test_adam_formula(engine):
    # Adam (Kingma and Ba, arXiv 1412.6980), with the bias correction in the step size
    # as at the end of the paper's section 2: m_t = b1 m + (1 - b1) g,
    # v_t = b2 v + (1 - b2) g**2, lr_t = lr sqrt(1 - b2**t) / (1 - b1**t),
    # theta_t = theta_{t-1} - lr_t m_t / (sqrt(v_t) + eps).
    scalars = adaptive_scalars(C.ADAM)
    hyper, counts = scalars
    lr, eps = hyper[C.RATE], hyper[C.EPSILON]
    b1, b2 = hyper[C.BETA_1], hyper[C.BETA_2]
    got, m, v = initial_theta(np.float64), np.zeros(N_PARAMS), np.zeros(N_PARAMS)
    expected, expected_m = initial_theta(np.float64), np.zeros(N_PARAMS)
    expected_v = np.zeros(N_PARAMS)
    for t, grad in enumerate(gradients(np.float64), start=1):
        ENGINES[engine].adam_step(got, grad, m, v, scalars)
        expected_m = b1 * expected_m + (1 - b1) * grad
        expected_v = b2 * expected_v + (1 - b2) * grad**2
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        expected = expected - lr_t * expected_m / (np.sqrt(expected_v) + eps)
        assert counts[C.STEP] == t
        assert_allclose(hyper[C.LR], lr_t, **TOLERANCE[np.float64])
    assert_allclose(got, expected, **TOLERANCE[np.float64])
    assert_allclose(m, expected_m, **TOLERANCE[np.float64])
    assert_allclose(v, expected_v, **TOLERANCE[np.float64])


@pytest.mark.parametrize("engine", ENGINES)
def test_rmsprop_formula(engine):
    # RMSprop (Tieleman and Hinton, 2012, lecture 6.5), decay rho = beta_2:
    # v_t = rho v_{t-1} + (1 - rho) g**2; theta_t = theta_{t-1} - lr g / (sqrt(v_t) + eps).
    # No momentum, no bias correction, no step count.
    scalars = adaptive_scalars(C.RMSPROP)
    hyper, counts = scalars
    lr, rho, eps = hyper[C.RATE], hyper[C.BETA_2], hyper[C.EPSILON]
    got, v = initial_theta(np.float64), np.zeros(N_PARAMS)
    expected, expected_v = initial_theta(np.float64), np.zeros(N_PARAMS)
    for grad in gradients(np.float64):
        ENGINES[engine].rmsprop_step(got, grad, v, scalars)
        expected_v = rho * expected_v + (1 - rho) * grad**2
        expected = expected - lr * grad / (np.sqrt(expected_v) + eps)
    assert counts[C.STEP] == 0
    assert_allclose(got, expected, **TOLERANCE[np.float64])
    assert_allclose(v, expected_v, **TOLERANCE[np.float64])


@pytest.mark.parametrize("engine", ENGINES)
def test_adamw_formula(engine):
    # AdamW (Loshchilov and Hutter, arXiv 1711.05101, algorithm 2), as PyTorch writes it:
    # the weights (the first N_WEIGHTS entries) decay by the base rate times the decay,
    # theta[:n] *= 1 - lr wd, apart from the gradient; the biases do not; then Adam.
    scalars = adaptive_scalars(C.ADAMW)
    hyper, counts = scalars
    lr, wd, eps = hyper[C.RATE], hyper[C.WEIGHT_DECAY], hyper[C.EPSILON]
    b1, b2 = hyper[C.BETA_1], hyper[C.BETA_2]
    got, m, v = initial_theta(np.float64), np.zeros(N_PARAMS), np.zeros(N_PARAMS)
    expected, expected_m = initial_theta(np.float64), np.zeros(N_PARAMS)
    expected_v = np.zeros(N_PARAMS)
    decay = np.where(np.arange(N_PARAMS) < N_WEIGHTS, 1 - lr * wd, 1.0)
    for t, grad in enumerate(gradients(np.float64), start=1):
        ENGINES[engine].adamw_step(got, grad, m, v, scalars)
        expected = expected * decay
        expected_m = b1 * expected_m + (1 - b1) * grad
        expected_v = b2 * expected_v + (1 - b2) * grad**2
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        expected = expected - lr_t * expected_m / (np.sqrt(expected_v) + eps)
        assert counts[C.STEP] == t
    assert_allclose(got, expected, **TOLERANCE[np.float64])
    assert_allclose(m, expected_m, **TOLERANCE[np.float64])
    assert_allclose(v, expected_v, **TOLERANCE[np.float64])


@pytest.mark.parametrize("engine", ENGINES)
def test_adamw_decay_alone(engine):
    # With a zero gradient Adam's update is zero, so only the decay acts: after t steps
    # the weights are theta (1 - lr wd)**t and the biases are untouched.
    scalars = adaptive_scalars(C.ADAMW)
    hyper, counts = scalars
    lr, wd = hyper[C.RATE], hyper[C.WEIGHT_DECAY]
    got, m, v = initial_theta(np.float64), np.zeros(N_PARAMS), np.zeros(N_PARAMS)
    for _ in range(N_STEPS):
        ENGINES[engine].adamw_step(got, np.zeros(N_PARAMS), m, v, scalars)
    expected = initial_theta(np.float64)
    expected[:N_WEIGHTS] *= (1 - lr * wd) ** N_STEPS
    assert_allclose(got, expected, **TOLERANCE[np.float64])


@pytest.mark.parametrize("engine", ENGINES)
def test_cosine_schedule_formula(engine):
    # Cosine annealing (Loshchilov and Hutter, arXiv 1608.03983, without restarts) to 0
    # over `horizon` epochs: after epoch e, lr = lr_init (1 + cos(pi e / horizon)) / 2;
    # past the horizon the rate stays 0.
    horizon, lr_init = 6, 0.1
    scalars = schedule_scalars(C.COSINE, horizon, lr_init)
    hyper, counts = scalars
    hyper[C.N_ITER_NO_CHANGE] = 100
    for e in range(1, horizon + 3):
        ENGINES[engine].epoch_end(scalars, 1.0 / e)
        expected = lr_init * (1 + np.cos(np.pi * min(e, horizon) / horizon)) / 2
        assert counts[C.EPOCH] == e
        assert_allclose(hyper[C.LR], expected, rtol=1e-12, atol=1e-17)
        assert hyper[C.RATE] == hyper[C.LR]


@pytest.mark.parametrize("engine", ENGINES)
def test_step_schedule_formula(engine):
    # Step decay: after epoch e, lr = lr_init * 0.1**floor(e / horizon).
    horizon, lr_init = 3, 0.1
    scalars = schedule_scalars(C.STEP_DECAY, horizon, lr_init)
    hyper, counts = scalars
    hyper[C.N_ITER_NO_CHANGE] = 100
    for e in range(1, 3 * horizon + 2):
        ENGINES[engine].epoch_end(scalars, 1.0 / e)
        expected = lr_init * 0.1 ** (e // horizon)
        assert counts[C.EPOCH] == e
        assert_allclose(hyper[C.LR], expected, rtol=1e-12)
        assert hyper[C.RATE] == hyper[C.LR]


# --- Back-propagation through a transposed product -----------------------------------


@DTYPES
@pytest.mark.parametrize(
    "shape", [(16, 128, 64), (32, 64, 64), (16, 64, 128), (48, 64, 32), (32, 128, 128)]
)
def test_backpropagate_is_delta_times_W_transposed(dtype, shape):
    # dense.backpropagate takes the transposed path for the first two shapes, the direct
    # one for the others (and whenever the scratch space is too small): all must give
    # delta @ W.T.
    import numba

    from fastnn.kernels.dense import backpropagate, transposed_pays

    @numba.njit
    def call(delta, W, out, scratch):
        backpropagate(delta, W, out, scratch)

    rows, fan_in, fan_out = shape
    transposed = shape in [(16, 128, 64), (32, 64, 64)]
    assert numba.njit(lambda r, i, o: transposed_pays(r, i, o))(*shape) == transposed
    rng = np.random.default_rng(0)
    delta = rng.normal(size=(rows, fan_out)).astype(dtype)
    W = rng.normal(size=(fan_in, fan_out)).astype(dtype)
    expected = delta.astype(np.float64) @ W.T.astype(np.float64)
    # The rounding error of a sum of fan_out products, in the dtype: at most about
    # fan_out * eps * sum(|products|) (the standard bound for a dot product).
    bound = fan_out * np.finfo(dtype).eps * (np.abs(delta) @ np.abs(W).T).astype(np.float64)
    for room in ((fan_in + fan_out) * rows, 0):
        scratch = np.full(room, np.nan, dtype=dtype)  # nothing may be read before written
        got = np.full((rows, fan_in), np.nan, dtype=dtype)
        call(delta, W, got, scratch)
        assert np.all(np.abs(got - expected) <= bound), np.max(np.abs(got - expected) / bound)


@DTYPES
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.skipif(
    np.lib.NumpyVersion(np.__version__) < "2.0.0",
    reason="scikit-learn's float32 Adam update is float64 only under NumPy 2's promotion "
    "rules (NEP 50); under NumPy 1 it is float32, and fastnn's stays float64",
)
def test_adam_is_scikit_learns_arithmetic(engine, dtype):
    # scikit-learn's AdamOptimizer._get_updates and update_params (1.9), written as
    # there: Python-float hyper-parameters (rounded to the arrays' dtype by NumPy), a
    # NumPy float64 rate, and ``param += update``. Equal bits in float32 as in float64:
    # moments in float32, the update in float64.
    beta_1, beta_2, epsilon, lr_init = 0.9, 0.999, 1e-8, 0.02
    rng = np.random.default_rng(3)
    n = 1000
    theta = rng.normal(size=n).astype(dtype)
    expected = theta.copy()
    m, v = np.zeros(n, dtype=dtype), np.zeros(n, dtype=dtype)
    expected_m, expected_v = m.copy(), v.copy()
    scalars = make_scalars(C.ADAM)
    hyper, counts = scalars
    hyper[C.BETA_1], hyper[C.BETA_2], hyper[C.EPSILON] = beta_1, beta_2, epsilon
    hyper[C.RATE] = lr_init
    for t in range(1, 6):
        grad = rng.normal(scale=10.0**-t, size=n).astype(dtype)
        ENGINES[engine].adam_step(theta, grad, m, v, scalars)
        expected_m = beta_1 * expected_m + (1 - beta_1) * grad
        expected_v = beta_2 * expected_v + (1 - beta_2) * (grad**2)
        learning_rate = lr_init * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        expected += -learning_rate * expected_m / (np.sqrt(expected_v) + epsilon)
    assert expected.dtype == dtype
    np.testing.assert_array_equal(m, expected_m)
    np.testing.assert_array_equal(v, expected_v)
    np.testing.assert_array_equal(theta, expected)


@DTYPES
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.skipif(
    np.lib.NumpyVersion(np.__version__) < "2.0.0",
    reason="scikit-learn's float32 Adam update is float64 only under NumPy 2 (NEP 50)",
)
def test_adam_matches_scikit_learns_optimizer(engine, dtype):
    # The formula above, against scikit-learn's own optimizer object: the oracle run.
    optimizers = pytest.importorskip(
        "sklearn.neural_network._stochastic_optimizers",
        reason="scikit-learn moved its optimizers; the formula test above still holds",
    )
    rng = np.random.default_rng(5)
    theta = rng.normal(size=1000).astype(dtype)
    params = [theta.copy()]
    adam = optimizers.AdamOptimizer(params, learning_rate_init=0.02)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    scalars = make_scalars(C.ADAM)
    hyper, counts = scalars
    hyper[C.BETA_1], hyper[C.BETA_2], hyper[C.EPSILON] = 0.9, 0.999, 1e-8
    hyper[C.RATE] = 0.02
    for t in range(1, 6):
        grad = rng.normal(scale=10.0**-t, size=1000).astype(dtype)
        ENGINES[engine].adam_step(theta, grad, m, v, scalars)
        adam.update_params(params, [grad])
    assert params[0].dtype == dtype
    np.testing.assert_array_equal(theta, params[0])


@DTYPES
def test_rmsprop_engines_agree_exactly(dtype):
    # The same order of operations as Adam's (test above): the second moment in the
    # parameters' dtype, the update in float64.
    rng = np.random.default_rng(4)
    theta = rng.normal(size=500).astype(dtype)
    thetas = [theta.copy() for _ in ENGINES]
    vs = [np.zeros(500, dtype=dtype) for _ in ENGINES]
    scalars = [adaptive_scalars(C.RMSPROP) for _ in ENGINES]
    for t in range(1, 6):
        grad = rng.normal(scale=10.0**-t, size=500).astype(dtype)
        for engine, theta, v, s in zip(ENGINES.values(), thetas, vs, scalars):
            engine.rmsprop_step(theta, grad, v, s)
    np.testing.assert_array_equal(vs[0], vs[1])
    np.testing.assert_array_equal(thetas[0], thetas[1])
