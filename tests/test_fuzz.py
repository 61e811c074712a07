"""Property tests: every Numba kernel equals its NumPy twin on random inputs.

Hypothesis draws the shapes (1 to 4 layers of 1 to 16 units, 1 to 12 samples, batch
sizes from 1 up, so batches of one row and a short last batch both occur), the dtype,
every activation, loss and solver code of :mod:`fastnn._codes`, dropout rates and a
seed for the values. Each property runs the kernel and its reference twin on copies of
the same arrays and compares every output, including the buffers written in place.

Profiles: ``dev`` (the default) keeps the module to a few seconds; ``ci`` (chosen when
the ``CI`` environment variable is set) runs many more examples and stays under a
minute. ``HYPOTHESIS_PROFILE=ci pytest tests/test_fuzz.py`` picks one by hand.
"""

import os
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from fastnn import _codes as C
from fastnn import _workers, kernels, reference
from fastnn.kernels import split
from fastnn.layout import n_params, unpack, work_size

settings.register_profile(
    "dev",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# CI runs a fixed, larger set of examples, so that a red build is reproducible.
settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# float64: the kernels follow the reference's order of operations except in the BLAS
# products and a few sums, so they agree to a few ulps; 1e-10 leaves a wide margin.
# float32: the kernels accumulate sums (losses, sample weights, bias gradients) and
# evaluate the logistic in float64 before rounding, while NumPy stays in float32 and
# sums pairwise. Measured over 300 examples per kernel: up to 5e-6; 1e-4 is the stated
# bound. ``atol`` is relative to the largest expected magnitude, so that entries near
# zero that come from cancelling sums are not held to ``rtol``. (float64 measured: at
# most 1.6e-15.) Epochs follow the rules of the "Epochs" section below.
TOLERANCE = {
    np.float64: {"rtol": 1e-10, "atol": 1e-12},
    np.float32: {"rtol": 1e-4, "atol": 1e-5},
}

HIDDEN_CODES = sorted(C.ACTIVATIONS.values())
LOSS_CODES = sorted(C.OUTPUT_ACTIVATION)
SOLVER_CODES = sorted(C.SOLVERS.values())
SCHEDULE_CODES = sorted(C.SCHEDULES.values())

dtypes = st.sampled_from([np.float64, np.float32])
seeds = st.integers(0, 2**32 - 1)
dropout_rates = st.sampled_from([0.0, 0.0, 0.1, 0.5, 0.9])


def assert_close(got, expected, dtype, slack=0.0, tolerance=TOLERANCE):
    """``got`` equals ``expected`` to the dtype's tolerance, plus an absolute ``slack``
    (NaN equals NaN)."""
    expected = np.asarray(expected, dtype=np.float64)
    finite = np.abs(expected[np.isfinite(expected)])
    scale = max(1.0, float(finite.max(initial=0.0)))
    tol = tolerance[dtype]
    assert_allclose(got, expected, rtol=tol["rtol"], atol=tol["atol"] * scale + slack)


def converted(net, dtype, theta):
    """``net``'s data and ``theta`` in ``dtype`` (widening is exact)."""
    return net.X.astype(dtype), net.Y.astype(dtype), net.sw.astype(dtype), theta.astype(dtype)


def targets(rng, loss, n_samples, n_outputs, dtype):
    """Targets suited to the loss: 0/1 labels, one-hot classes, counts or reals."""
    if loss == C.BINARY_LOG_LOSS:
        Y = rng.integers(0, 2, size=(n_samples, n_outputs))
    elif loss == C.LOG_LOSS:
        Y = np.eye(n_outputs)[rng.integers(0, n_outputs, size=n_samples)]
    elif loss == C.POISSON:
        Y = rng.poisson(2.0, size=(n_samples, n_outputs))
    else:
        Y = rng.normal(size=(n_samples, n_outputs))
    return np.ascontiguousarray(Y, dtype=dtype)


@st.composite
def networks(draw, max_samples=12):
    """A random network and batch: sizes, codes, ``X``, ``Y``, ``sw``, ``theta`` and the
    ``scalars`` vector (with one dropout rate per hidden layer)."""
    dtype = draw(dtypes)
    n_layers = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 16), min_size=n_layers + 1, max_size=n_layers + 1))
    sizes = np.array(sizes, dtype=np.int64)
    loss = draw(st.sampled_from(LOSS_CODES))
    solver = draw(st.sampled_from(SOLVER_CODES))
    codes = np.array([draw(st.sampled_from(HIDDEN_CODES)), loss, solver], dtype=np.int64)
    n_samples = draw(st.integers(1, max_samples))
    x_scale = draw(st.sampled_from([0.1, 1.0, 3.0]))
    rates = draw(st.lists(dropout_rates, min_size=n_layers - 1, max_size=n_layers - 1))
    rng = np.random.default_rng(draw(seeds))
    X = (x_scale * rng.normal(size=(n_samples, sizes[0]))).astype(dtype)
    Y = targets(rng, loss, n_samples, sizes[-1], dtype)
    uniform_weights = draw(st.booleans())
    sw = np.ones(n_samples) if uniform_weights else rng.uniform(0.1, 2.0, n_samples)
    # Weights of about 1/sqrt(fan_in), as Glorot's initialisation gives.
    theta = rng.normal(size=n_params(sizes))
    for W in unpack(theta, sizes)[0]:
        W /= np.sqrt(W.shape[0])
    scalars = make_scalars(draw, sizes, solver, rates)
    return SimpleNamespace(
        dtype=dtype,
        sizes=sizes,
        codes=codes,
        X=X,
        Y=Y,
        sw=sw.astype(dtype),
        theta=theta.astype(dtype),
        scalars=scalars,
        rng=rng,
    )


def make_scalars(draw, sizes, solver, rates):
    """The hyper-parameter vector of :mod:`fastnn._codes`, with drawn values."""
    scalars = C.new_scalars(len(rates))
    hyper, counts = scalars
    # Rates as used in practice: adam, adamw and rmsprop normalise their steps, and at
    # 0.1 rmsprop's first step is 3 per weight.
    learning_rates = [1e-3, 1e-2, 0.1] if solver == C.SGD else [1e-4, 1e-3, 1e-2]
    rate = draw(st.sampled_from(learning_rates))
    hyper[C.LR] = hyper[C.LR_INIT] = hyper[C.RATE] = rate
    hyper[C.MOMENTUM] = draw(st.sampled_from([0.0, 0.5, 0.9]))
    counts[C.NESTEROV] = draw(st.booleans())
    hyper[C.BETA_1], hyper[C.BETA_2], hyper[C.EPSILON] = 0.9, 0.999, 1e-8
    hyper[C.ALPHA] = draw(st.sampled_from([0.0, 1e-4, 0.3]))
    hyper[C.WEIGHT_DECAY] = hyper[C.ALPHA] if solver == C.ADAMW else 0.0
    counts[C.N_WEIGHTS] = sum(int(a) * int(b) for a, b in zip(sizes[:-1], sizes[1:]))
    counts[C.DROPOUT_SEED] = draw(st.integers(0, 2**31 - 2))
    counts[C.BATCH_COUNT] = draw(st.integers(0, 10**6))
    hyper[C.DROPOUT : C.DROPOUT + len(rates)] = rates
    return scalars


@st.composite
def matrices(draw):
    """A 2-D array of a drawn dtype and scale, and a second one of the same shape."""
    dtype = draw(dtypes)
    shape = (draw(st.integers(1, 12)), draw(st.integers(1, 16)))
    scale = draw(st.sampled_from([0.1, 1.0, 5.0, 50.0]))
    rng = np.random.default_rng(draw(seeds))
    Z = (scale * rng.normal(size=shape)).astype(dtype)
    other = rng.normal(size=shape).astype(dtype)
    return dtype, Z, other


# --- Activations and dropout ------------------------------------------------------------


@given(matrices(), st.sampled_from(HIDDEN_CODES))
def test_activate(data, code):
    dtype, Z, _ = data
    got, expected = Z.copy(), Z.copy()
    kernels.activate(got, code)
    reference.activate(expected, code)
    assert_close(got, expected, dtype)


@given(matrices(), st.sampled_from(HIDDEN_CODES))
def test_activation_derivative(data, code):
    dtype, A, delta = data
    reference.activate(A, code)  # outputs of the activation: relu leaves exact zeros
    got, expected = delta.copy(), delta.copy()
    kernels.activation_derivative(A, got, code)
    reference.activation_derivative(A, expected, code)
    assert_close(got, expected, dtype)


def dropout_scalars(draw, p, layer):
    scalars = C.new_scalars(layer + 1)
    hyper, counts = scalars
    counts[C.DROPOUT_SEED] = draw(st.integers(0, 2**31 - 2))
    counts[C.BATCH_COUNT] = draw(st.integers(0, 10**6))
    hyper[C.DROPOUT + layer] = p
    return scalars


@given(matrices(), st.floats(0.0, 0.95), st.integers(0, 3), st.data())
def test_dropout(data, p, layer, draw):
    dtype, A, _ = data
    scalars = dropout_scalars(draw.draw, p, layer)
    got, expected = A.copy(), A.copy()
    kernels.dropout(got, p, scalars, layer)
    reference.dropout(expected, p, scalars, layer)
    assert_array_equal(got == 0, expected == 0)  # the same units are dropped
    assert_close(got, expected, dtype)


@given(matrices(), st.sampled_from(HIDDEN_CODES), st.floats(0.0, 0.95), st.data())
def test_dropout_derivative(data, code, p, draw):
    dtype, A, delta = data
    layer = draw.draw(st.integers(0, 3))
    scalars = dropout_scalars(draw.draw, p, layer)
    reference.activate(A, code)
    reference.dropout(A, p, scalars, layer)  # a dropped-out layer's stored outputs
    got, expected = delta.copy(), delta.copy()
    kernels.dropout_derivative(A, got, code, p, scalars, layer)
    reference.dropout_derivative(A, expected, code, p, scalars, layer)
    assert_close(got, expected, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_dropout_of_non_finite_values(dtype):
    # A dropped inf or NaN stays visible (inf * 0 is NaN) in both engines, so that an
    # overflow under dropout still reaches the loss and stops training.
    p, layer = 0.99, 0  # nearly every unit dropped
    scalars = C.new_scalars(1)
    hyper, counts = scalars
    hyper[C.DROPOUT] = p
    A = np.array([[np.inf, -np.inf, np.nan, 1.0]] * 4, dtype=dtype)
    with np.errstate(all="ignore"):
        got, expected = A.copy(), A.copy()
        kernels.dropout(got, p, scalars, layer)
        reference.dropout(expected, p, scalars, layer)
        got_delta, expected_delta = np.full_like(A, np.inf), np.full_like(A, np.inf)
        kernels.dropout_derivative(A, got_delta, C.IDENTITY, p, scalars, layer)
        reference.dropout_derivative(A, expected_delta, C.IDENTITY, p, scalars, layer)
    assert_array_equal(got, expected)
    assert_array_equal(got_delta, expected_delta)


@given(st.lists(dropout_rates, max_size=4), st.integers(0, 5))
def test_dropout_rate(rates, layer):
    scalars = C.new_scalars(len(rates))
    hyper, counts = scalars
    hyper[C.DROPOUT : C.DROPOUT + len(rates)] = rates
    assert kernels.dropout_rate(scalars, layer) == reference.dropout_rate(scalars, layer)


# --- Output activation, loss, output delta, penalty -------------------------------------


@given(matrices(), st.sampled_from(LOSS_CODES))
def test_output_activate(data, loss):
    dtype, Z, _ = data
    got, expected = Z.copy(), Z.copy()
    kernels.output_activate(got, loss)
    # Poisson's exp overflows to inf for a large Z (float32 past 88): both engines give
    # inf, which assert_close compares; NumPy's overflow warning says nothing more.
    with np.errstate(over="ignore"):
        reference.output_activate(expected, loss)
    assert_close(got, expected, dtype)


def outputs_and_targets(net):
    """Output activations of a random ``Z`` and targets, as a network would give."""
    A_out = net.rng.normal(size=(net.X.shape[0], int(net.sizes[-1]))).astype(net.dtype)
    reference.output_activate(A_out, net.codes[C.OUTPUT])
    return A_out, net.Y


@given(networks())
def test_output_loss(net):
    A_out, Y = outputs_and_targets(net)
    loss = net.codes[C.OUTPUT]
    got = kernels.output_loss(A_out, Y, net.sw, loss)
    expected = reference.output_loss(A_out, Y, net.sw, loss)
    assert_close(got, expected, net.dtype)


@given(networks())
def test_output_delta(net):
    A_out, Y = outputs_and_targets(net)
    loss = net.codes[C.OUTPUT]
    got = np.full_like(A_out, np.nan)
    kernels.output_delta(A_out, Y, net.sw, loss, got)
    expected = reference.output_delta(A_out, Y, net.sw, loss)
    assert_close(got, expected, net.dtype)


@given(networks())
def test_penalty(net):
    alpha, sw_sum = net.scalars[0][C.ALPHA], float(net.sw.sum())
    got = kernels.penalty(net.theta, net.sizes, alpha, sw_sum)
    expected = reference.penalty(unpack(net.theta, net.sizes)[0], alpha, sw_sum)
    assert_close(got, expected, net.dtype)


# --- Forward, backward, prediction, loss and gradient of a batch ------------------------


def numba_layers(work, sizes, capacity, n_rows, which=0):
    """The activations (``which=0``) or deltas (``which=1``) numba's ``forward`` and
    ``backward`` leave in ``work``: one block of ``capacity`` rows per layer."""
    blocks, start = [], which * capacity * int(sizes[1:].sum())
    for units in sizes[1:]:
        blocks.append(work[start : start + n_rows * units].reshape(n_rows, units))
        start += capacity * units
    return blocks


@given(networks(), st.integers(0, 5))
def test_forward(net, spare_rows):
    n = net.X.shape[0]
    capacity = n + spare_rows  # a batch shorter than the buffers, as the last batch is
    work = np.zeros(work_size(net.sizes, capacity, gather=False), dtype=net.dtype)
    network = (net.sizes, net.codes)
    kernels.forward(net.X, network, net.theta, net.scalars, work)
    got = numba_layers(work, net.sizes, capacity, n)
    expected = reference.forward(net.X, network, net.theta, net.scalars)[1:]
    assert len(got) == len(expected)
    for got_layer, expected_layer in zip(got, expected):
        assert_close(got_layer, expected_layer, net.dtype)


@given(networks(), st.integers(0, 5))
def test_backward(net, spare_rows):
    network = (net.sizes, net.codes)
    outputs = reference.forward(net.X, network, net.theta, net.scalars)[-1]
    assume(np.all(np.isfinite(outputs)))  # overflowing batches: see compare_runs
    n = net.X.shape[0]
    capacity = n + spare_rows
    work = np.zeros(work_size(net.sizes, capacity, gather=False), dtype=net.dtype)
    got = np.full_like(net.theta, np.nan)
    kernels.forward(net.X, network, net.theta, net.scalars, work)
    kernels.backward(net.X, net.Y, net.sw, network, net.theta, got, net.scalars, work)
    expected = np.full_like(net.theta, np.nan)
    activations = reference.forward(net.X, network, net.theta, net.scalars)
    reference.backward(activations, net.Y, net.sw, network, net.theta, expected, net.scalars)
    assert_close(got, expected, net.dtype)


@given(networks())
def test_predict(net):
    got = kernels.predict(net.X, (net.sizes, net.codes), net.theta)
    expected = reference.predict(net.X, (net.sizes, net.codes), net.theta)
    assert got.dtype == expected.dtype == net.dtype
    assert_close(got, expected, net.dtype)


@given(networks(), st.integers(0, 5))
def test_batch_loss_grad(net, spare_rows):
    capacity = net.X.shape[0] + spare_rows

    def run(engine, dtype, theta):
        X, Y, sw, theta = converted(net, dtype, theta)
        work = np.zeros(work_size(net.sizes, capacity, gather=False), dtype=dtype)
        grad = np.zeros_like(theta)
        args = (X, Y, sw, (net.sizes, net.codes), theta, grad, net.scalars, work)
        return [engine.batch_loss_grad(*args), grad]

    compare_runs(net, run)


# --- Optimizer steps --------------------------------------------------------------------


def steps_problem(net, n_steps):
    """``n_steps`` random gradients and the two engines' copies of ``theta`` and
    ``scalars``."""
    grads = net.rng.normal(size=(n_steps, net.theta.shape[0])).astype(net.dtype)
    return (
        grads,
        [net.theta.copy(), net.theta.copy()],
        [C.copy_scalars(net.scalars), C.copy_scalars(net.scalars)],
    )


@given(networks(), st.integers(1, 4))
def test_sgd_step(net, n_steps):
    grads, thetas, scalars = steps_problem(net, n_steps)
    velocities = [np.zeros_like(net.theta), np.zeros_like(net.theta)]
    for grad in grads:
        for engine, theta, velocity, s in zip((kernels, reference), thetas, velocities, scalars):
            engine.sgd_step(theta, grad, velocity, s)
    assert_close(thetas[0], thetas[1], net.dtype)
    assert_close(velocities[0], velocities[1], net.dtype)


@pytest.mark.parametrize("step", ["adam_step", "adamw_step"])
@given(net=networks(), n_steps=st.integers(1, 4))
def test_adam_steps(step, net, n_steps):
    grads, thetas, scalars = steps_problem(net, n_steps)
    moments = [[np.zeros_like(net.theta) for _ in range(2)] for _ in range(2)]
    for grad in grads:
        for engine, theta, (m, v), s in zip((kernels, reference), thetas, moments, scalars):
            getattr(engine, step)(theta, grad, m, v, s)
    assert_close(thetas[0], thetas[1], net.dtype)
    for got, expected in zip(moments[0], moments[1]):
        assert_close(got, expected, net.dtype)
    assert_close(scalars[0][0], scalars[1][0], np.float64)  # hyper
    np.testing.assert_array_equal(scalars[0][1], scalars[1][1])  # counts


@given(networks(), st.integers(1, 4))
def test_rmsprop_step(net, n_steps):
    grads, thetas, scalars = steps_problem(net, n_steps)
    squares = [np.zeros_like(net.theta), np.zeros_like(net.theta)]
    for grad in grads:
        for engine, theta, v, s in zip((kernels, reference), thetas, squares, scalars):
            engine.rmsprop_step(theta, grad, v, s)
    assert_close(thetas[0], thetas[1], net.dtype)
    assert_close(squares[0], squares[1], net.dtype)


def new_state(net):
    """The optimizer state of ``net``'s solver: its moments, then the saved weights."""
    moments = C.MOMENTS[int(net.codes[C.SOLVER])]
    return np.zeros((moments + 1) * net.theta.shape[0], dtype=net.dtype)


@given(networks(), st.integers(1, 4))
def test_optimizer_step(net, n_steps):
    grads, thetas, scalars = steps_problem(net, n_steps)
    states = [new_state(net), new_state(net)]
    for grad in grads:
        for engine, theta, state, s in zip((kernels, reference), thetas, states, scalars):
            engine.optimizer_step(theta, grad, state, s, net.codes)
    assert_close(thetas[0], thetas[1], net.dtype)
    assert_close(states[0], states[1], net.dtype)
    assert_close(scalars[0][0], scalars[1][0], np.float64)  # hyper
    np.testing.assert_array_equal(scalars[0][1], scalars[1][1])  # counts


# --- Epochs -----------------------------------------------------------------------------
#
# Over several optimizer steps the training dynamics amplify rounding, so the epoch
# properties cannot use the one-call tolerances (measured with them: float32 epochs
# differed by up to 4.7 relative, float64 epochs by up to 6e-9 relative). Three rules:
# - float32 epochs train with sgd. adam, adamw and rmsprop divide each gradient
#   component by its running root mean square, so a component that is float32 rounding
#   noise (a cancelling sum, or a tanh that is exactly 1.0 in one engine and 1 - 1 ulp
#   in the other) becomes a step of a few learning rates in either direction: the
#   engines' float32 trajectories then differ by whole steps (5e-4 after 20 steps at a
#   rate of 1e-3, from gradients that agreed to one ulp), which is as large as any
#   mistake in the step would make them. Their float32 steps are compared one at a time
#   above, on gradients that are not noise, and float64 epochs use every solver.
# - What depends on float32 rounding is allowed, beyond the float32 tolerance, ten times
#   what rounding does to the reference itself: the reference rerun in float64 from the
#   same inputs (for float64 problems, from weights nudged by one ulp). A
#   well-conditioned run gets no slack; a chaotic one (an exploding loss) is compared
#   only as far as it is reproducible. The same rule covers the loss of one batch, which
#   near saturation is ``-log(1 - P)`` of a probability that each engine rounds to
#   float32 on its own (measured: 5e-3 relative at a loss of 10).
# - float64 epochs are held to 1e-8 rather than 1e-10: a tanh that saturates to 1.0 in
#   one engine's libm and not in the other's is not reproduced by a nudge (worst
#   measured: 6e-9 relative, 2e-10 absolute).
EPOCH_TOLERANCE = {
    np.float64: {"rtol": 1e-8, "atol": 1e-8},
    np.float32: TOLERANCE[np.float32],
}
SLACK_FACTOR = 10.0


def float32_with_sgd(net):
    """float32 epochs train with sgd: see the rules above."""
    if net.dtype == np.float32:
        net.codes[C.SOLVER] = C.SGD


def compare_runs(net, run, exact=0, tolerance=TOLERANCE, kept_on_overflow=0):
    """Hold the kernel's results to the reference's, with the slack described above.

    ``run(engine, dtype, theta)`` computes from copies of ``net``'s arrays in ``dtype``
    and returns a list: first ``exact`` results that must match exactly (counters,
    shuffled rows, the generator's state), then the loss, then arrays compared to
    ``tolerance``. When the reference's loss overflows, the kernel's must too, and only
    the ``kept_on_overflow`` arrays after the loss are still compared (the weights that
    ``run_epochs`` restores); the rest (gradients, moments) is inf and NaN whose exact
    pattern depends on the order in which each engine adds and multiplies infinities.
    """
    got = run(kernels, net.dtype, net.theta)
    expected = run(reference, net.dtype, net.theta)
    if net.dtype == np.float32:
        rerun = run(reference, np.float64, net.theta)
    else:
        away = np.where(net.rng.random(net.theta.shape) < 0.5, -np.inf, np.inf)
        rerun = run(reference, net.dtype, np.nextafter(net.theta, away))
    # A run whose discrete outcome (epochs run, stopping) moves with rounding alone has
    # nothing reproducible to compare; nor has one that overflows only in the rerun.
    assume(all(np.array_equal(e, r) for e, r in zip(expected[:exact], rerun[:exact])))
    overflow = not np.all(np.isfinite(expected[exact]))
    assume(overflow == (not np.all(np.isfinite(rerun[exact]))))
    for got_value, expected_value in zip(got[:exact], expected[:exact]):
        assert_array_equal(got_value, expected_value)
    n_compared = 1 + kept_on_overflow if overflow else len(expected) - exact
    for got_value, expected_value, rerun_value in list(
        zip(got[exact:], expected[exact:], rerun[exact:])
    )[:n_compared]:
        got_value, expected_value, rerun_value = (
            non_finite_as_nan(v) for v in (got_value, expected_value, rerun_value)
        )
        both = np.isfinite(expected_value) & np.isfinite(rerun_value)
        wobble = np.abs(expected_value[both] - rerun_value[both]).max(initial=0.0)
        assert_close(got_value, expected_value, net.dtype, SLACK_FACTOR * wobble, tolerance)


def non_finite_as_nan(value):
    """``value`` in float64 with inf and -inf as NaN: when a run overflows, the engines
    agree on which results are finite (what divergence detection reads), not on whether
    an overflow ends as inf or as NaN (``inf - inf`` in one order, ``inf`` in another)."""
    value = np.asarray(value, dtype=np.float64)
    return np.where(np.isfinite(value), value, np.nan)


@given(networks(max_samples=20), st.data())
def test_run_epoch(net, data):
    float32_with_sgd(net)
    n = net.X.shape[0]
    batch_size = data.draw(st.integers(1, n), label="batch_size")
    if data.draw(st.booleans(), label="subset"):  # some rows, some twice
        idx = net.rng.integers(0, n, size=data.draw(st.integers(1, n)))
    else:
        idx = net.rng.permutation(n)
    idx = idx.astype(np.int64)

    def run(engine, dtype, theta):
        X, Y, sw, theta = converted(net, dtype, theta)
        grad, state, s = (
            np.zeros_like(theta),
            new_state(net).astype(dtype),
            C.copy_scalars(net.scalars),
        )
        work = np.zeros(work_size(net.sizes, batch_size), dtype=dtype)
        with np.errstate(all="ignore"):
            total = engine.run_epoch(
                (X, Y, sw, idx), batch_size, (net.sizes, net.codes), (theta, grad, state), s, work
            )
        return [s[1][C.BATCH_COUNT], total, theta, grad, state, *s]

    compare_runs(net, run, exact=1, tolerance=EPOCH_TOLERANCE)


def rng_state_of(seed, n_draws):
    """A Mersenne Twister state vector (624 key words, then the position), advanced by
    ``n_draws`` doubles so that every position occurs."""
    random_state = np.random.RandomState(seed)
    random_state.random_sample(n_draws)
    _, key, pos = random_state.get_state()[:3]
    return np.append(key, np.uint32(pos)).astype(np.uint32)


@given(networks(max_samples=20), st.data())
def test_run_epochs(net, data):
    check_run_epochs(net, data, kernels.run_epochs)


@given(networks(max_samples=20), st.data())
def test_run_epochs_split_units(net, data):
    """The model-parallel kernel (``kernels/split.py``, on two threads) holds to the
    same twin, for the networks it trains: a hidden layer, no dropout."""
    assume(net.sizes.shape[0] >= 3)
    net.scalars[0][C.DROPOUT :] = 0.0
    check_run_epochs(net, data, _workers.drivers(split.run_epochs, split.helper)[1])


def check_run_epochs(net, data, kernel):
    """``kernel`` (a ``run_epochs``) against ``reference.run_epochs``."""
    float32_with_sgd(net)
    n = net.X.shape[0]
    s0 = net.scalars
    hyper0, counts0 = s0
    counts0[C.BATCH_SIZE] = data.draw(st.integers(1, n), label="batch_size")
    counts0[C.SHUFFLE] = data.draw(st.booleans(), label="shuffle")
    counts0[C.MONITOR] = data.draw(st.booleans(), label="monitor")
    counts0[C.SCHEDULE] = data.draw(st.sampled_from(SCHEDULE_CODES), label="schedule")
    hyper0[C.POWER_T] = 0.5
    counts0[C.HORIZON] = data.draw(st.integers(1, 3), label="horizon")
    # Not tol=0: once a schedule has brought the rate to zero, the stopping rule
    # compares equal losses, which the summation order decides.
    hyper0[C.TOL] = data.draw(st.sampled_from([1e-4, 10.0]), label="tol")
    hyper0[C.N_ITER_NO_CHANGE] = data.draw(st.integers(0, 2), label="n_iter_no_change")
    hyper0[C.BEST] = np.inf
    n_epochs = data.draw(st.integers(1, 3), label="n_epochs")
    rng_state = rng_state_of(data.draw(seeds), data.draw(st.integers(0, 700)))

    def run(engine, dtype, theta):
        X, Y, sw, theta = converted(net, dtype, theta)
        grad, state, s = np.zeros_like(theta), new_state(net).astype(dtype), C.copy_scalars(s0)
        rng, idx = rng_state.copy(), np.arange(n, dtype=np.int64)
        losses = np.full(n_epochs, np.nan)
        work = np.zeros(work_size(net.sizes, int(s[1][C.BATCH_SIZE])), dtype=dtype)
        run_epochs = kernel if engine is kernels else engine.run_epochs
        with np.errstate(all="ignore"):
            done = run_epochs(
                (X, Y, sw, idx), (net.sizes, net.codes), (theta, grad, state), s, work, rng, losses
            )
        hyper, counts = s
        stop = [counts[C.STOP], counts[C.NO_IMPROVEMENT], counts[C.BATCH_COUNT], counts[C.SEEN]]
        return [done, stop, idx, rng, losses[:done], theta, grad, state, hyper, counts]

    compare_runs(net, run, exact=4, tolerance=EPOCH_TOLERANCE, kept_on_overflow=1)


@given(st.integers(0, 100), seeds, st.integers(0, 700), st.booleans())
def test_shuffle(n, seed, n_draws, permutation):
    rng = np.random.default_rng(seed)
    idx = rng.permutation(n) if permutation else rng.integers(0, 10, size=n)
    idx = idx.astype(np.int64)
    rng_state = rng_state_of(seed, n_draws)
    got, got_state = idx.copy(), rng_state.copy()
    expected, expected_state = idx.copy(), rng_state.copy()
    kernels.shuffle(got, got_state)
    reference.shuffle(expected, expected_state)
    assert_array_equal(got, expected)
    assert_array_equal(got_state, expected_state)


@pytest.mark.parametrize("n", [2**14, 10_000, 2**14 + 1])
def test_shuffle_of_many_rows_is_numpys(n):
    """Three shuffles of ``n`` rows (many twists of the key, every mask from 1 bit to
    15) take NumPy's draws: the same order, and the generator where NumPy leaves it."""
    random_state = np.random.RandomState(7)
    _, key, pos = random_state.get_state()[:3]
    rng_state = np.append(key, np.uint32(pos)).astype(np.uint32)
    got, expected = np.arange(n), np.arange(n)
    for _ in range(3):
        kernels.shuffle(got, rng_state)
        random_state.shuffle(expected)
    assert_array_equal(got, expected)
    _, key, pos = random_state.get_state()[:3]
    assert rng_state[624] == pos
    assert_array_equal(rng_state[:624], key)


@given(
    value=st.floats(-10, 10),
    best=st.sampled_from([np.inf, -1.0, 0.0, 1.0]),
    tol=st.sampled_from([0.0, 1e-4, 0.5]),
    no_improvement=st.integers(0, 5),
    n_iter_no_change=st.sampled_from([0, 1, 3, np.inf]),
    schedule=st.sampled_from(SCHEDULE_CODES),
    lr=st.sampled_from([1e-7, 1e-3, 0.1]),
    epoch=st.integers(0, 10),
    horizon=st.integers(1, 5),
    seen=st.integers(0, 10**6),
)
def test_epoch_end(
    value, best, tol, no_improvement, n_iter_no_change, schedule, lr, epoch, horizon, seen
):
    scalars = C.new_scalars()
    hyper, counts = scalars
    hyper[C.BEST], hyper[C.TOL] = best, tol
    counts[C.NO_IMPROVEMENT], hyper[C.N_ITER_NO_CHANGE] = no_improvement, n_iter_no_change
    counts[C.SCHEDULE], hyper[C.POWER_T] = schedule, 0.5
    hyper[C.LR], hyper[C.LR_INIT], hyper[C.RATE] = lr, 0.01, lr
    counts[C.EPOCH], counts[C.HORIZON], counts[C.SEEN] = epoch, horizon, seen
    got, expected = C.copy_scalars(scalars), C.copy_scalars(scalars)
    kernels.epoch_end(got, value)
    reference.epoch_end(expected, value)
    assert_allclose(got[0], expected[0], rtol=1e-13, atol=0)
    assert_array_equal(got[1], expected[1])


# --- Coverage of the kernel list --------------------------------------------------------

FUZZED = {
    "activate": test_activate,
    "activation_derivative": test_activation_derivative,
    "adam_step": test_adam_steps,
    "adamw_step": test_adam_steps,
    "backward": test_backward,
    "batch_loss_grad": test_batch_loss_grad,
    "dropout": test_dropout,
    "dropout_derivative": test_dropout_derivative,
    "dropout_rate": test_dropout_rate,
    "epoch_end": test_epoch_end,
    "forward": test_forward,
    "optimizer_step": test_optimizer_step,
    "output_activate": test_output_activate,
    "output_delta": test_output_delta,
    "output_loss": test_output_loss,
    "penalty": test_penalty,
    "predict": test_predict,
    "rmsprop_step": test_rmsprop_step,
    "run_epoch": test_run_epoch,
    "run_epochs": test_run_epochs,
    "sgd_step": test_sgd_step,
    "shuffle": test_shuffle,
}


def test_every_kernel_has_a_twin_and_a_property():
    """A kernel added to :mod:`fastnn.kernels` needs a reference twin and a test here."""
    assert sorted(kernels.__all__) == sorted(FUZZED)
    for name in kernels.__all__:
        assert callable(getattr(reference, name)), name
