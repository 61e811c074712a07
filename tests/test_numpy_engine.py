"""The numpy engine's own bookkeeping: the random generator's state across and within
calls of ``run_epochs``, the views it makes once per call, and the number of epochs a
call runs. The math itself is held to the kernels by tests/test_kernels.py and
tests/test_fuzz.py, and to scikit-learn by tests/test_parity.py."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification

from fastnn import MLPClassifier, reference
from fastnn import _codes as C
from fastnn.layout import layer_sizes, n_params, unpack, work_size

DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
N_ROWS, BATCH = 23, 5


def epochs_problem(dtype, shuffle=True):
    """The arrays of :func:`fastnn.reference.run_epochs` but ``losses``, by name, for a
    small adam fit whose stopping rule is on but never fires."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_ROWS, 3)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, N_ROWS)]
    sw = rng.uniform(0.5, 2.0, N_ROWS).astype(dtype)
    sizes = layer_sizes(3, (6, 4), 3)
    theta = rng.uniform(-0.5, 0.5, n_params(sizes)).astype(dtype)
    codes = np.array([C.RELU, C.LOG_LOSS, C.ADAM], dtype=np.int64)
    scalars = C.new_scalars(2)
    hyper, counts = scalars
    hyper[C.LR] = hyper[C.LR_INIT] = hyper[C.RATE] = 0.01
    hyper[C.ALPHA] = 1e-3
    hyper[C.BETA_1], hyper[C.BETA_2], hyper[C.EPSILON] = 0.9, 0.999, 1e-8
    counts[C.N_WEIGHTS] = sum(W.size for W in unpack(theta, sizes)[0])
    counts[C.BATCH_SIZE] = BATCH
    counts[C.SHUFFLE] = shuffle
    counts[C.MONITOR] = 1
    hyper[C.BEST] = np.inf
    hyper[C.N_ITER_NO_CHANGE] = np.inf
    state = np.zeros(3 * theta.shape[0], dtype=dtype)
    _, key, pos = np.random.RandomState(7).get_state()[:3]
    rng_state = np.append(key, pos).astype(np.uint32)
    idx = np.arange(N_ROWS, dtype=np.int64)
    return dict(
        X=X, Y=Y, sw=sw, idx=idx, sizes=sizes, theta=theta, grad=np.zeros_like(theta),
        state=state, scalars=scalars, codes=codes, work=np.zeros(work_size(sizes, BATCH), dtype),
        rng_state=rng_state,
    )  # fmt: skip


def run(p, n_epochs, losses):
    """``reference.run_epochs`` on ``p`` for ``n_epochs`` epochs, into ``losses``."""
    data = (p["X"], p["Y"], p["sw"], p["idx"])
    network, params = (p["sizes"], p["codes"]), (p["theta"], p["grad"], p["state"])
    return reference.run_epochs(
        data, network, params, p["scalars"], p["work"], p["rng_state"], losses[:n_epochs]
    )


@DTYPES
@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffle", "no_shuffle"])
def test_two_calls_of_two_epochs_are_one_call_of_four(dtype, shuffle):
    # run_epochs keeps one RandomState per call and writes its state back at the end:
    # the next call must continue the stream exactly where the last one stopped.
    one, two = epochs_problem(dtype, shuffle), epochs_problem(dtype, shuffle)
    losses_one, losses_two = np.zeros(4), np.zeros(4)
    assert run(one, 4, losses_one) == 4
    assert run(two, 2, losses_two[:2]) == 2
    assert run(two, 2, losses_two[2:]) == 2
    for name in ("idx", "rng_state", "theta", "state"):
        assert_array_equal(one[name], two[name], err_msg=name)
    for got, expected in zip(one["scalars"], two["scalars"], strict=True):
        assert_array_equal(got, expected, err_msg="scalars")
    assert_array_equal(losses_one, losses_two)
    if not shuffle:
        assert_array_equal(one["idx"], np.arange(N_ROWS))


def test_a_call_shuffles_as_shuffle_does_each_epoch():
    p = epochs_problem(np.float64)
    idx, rng_state = p["idx"].copy(), p["rng_state"].copy()
    run(p, 3, np.zeros(3))
    for _ in range(3):
        reference.shuffle(idx, rng_state)
    assert_array_equal(p["idx"], idx)
    assert_array_equal(p["rng_state"], rng_state)


def test_the_generator_state_is_written_back_when_an_epoch_raises(monkeypatch):
    # An error in the second epoch (here a stand-in for Ctrl-C or MemoryError) leaves
    # rng_state matching the two shuffles idx has had.
    p = epochs_problem(np.float64)
    idx, rng_state = p["idx"].copy(), p["rng_state"].copy()
    run_epoch = reference._run_epoch
    epochs = []

    def failing(*args):
        epochs.append(1)
        if len(epochs) == 2:
            raise KeyboardInterrupt
        return run_epoch(*args)

    monkeypatch.setattr(reference, "_run_epoch", failing)
    with pytest.raises(KeyboardInterrupt):
        run(p, 4, np.zeros(4))
    for _ in range(2):
        reference.shuffle(idx, rng_state)
    assert_array_equal(p["idx"], idx)
    assert_array_equal(p["rng_state"], rng_state)


@DTYPES
def test_layers_are_views_of_the_flat_vectors(dtype):
    p = epochs_problem(dtype)
    net = reference.layers(p["sizes"], p["theta"], p["grad"])
    assert net.n_weights == p["scalars"][1][C.N_WEIGHTS]
    for views, flat in ((net.coefs + net.intercepts, p["theta"]),
                        (net.dcoefs + net.dintercepts, p["grad"])):  # fmt: skip
        assert all(np.shares_memory(v, flat) for v in views)
        assert sum(v.size for v in views) == flat.size
    assert reference.layers(p["sizes"], p["theta"]).dcoefs == []


def test_relu_derivative_zeroes_the_dead_units_only():
    A = np.array([[0.0, 1.5, np.nan], [2.0, 0.0, 0.25]])
    delta = np.array([[3.0, -2.0, 4.0], [-1.0, 5.0, 0.5]])
    expected = delta.copy()
    expected[A == 0] = 0  # the kernel's rule: 0 where a == 0, else delta
    reference.activation_derivative(A, delta, C.RELU)
    assert_array_equal(delta, expected)


def fit(backend, dtype="float64", **params):
    X, y = make_classification(120, 6, n_classes=3, n_informative=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the maximum number of iterations is reached
        return MLPClassifier(
            hidden_layer_sizes=(8,), max_iter=12, batch_size=32, tol=0.0, random_state=3,
            backend=backend, dtype=dtype, **params,
        ).fit(X, y)  # fmt: skip


@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffle", "no_shuffle"])
def test_the_generator_ends_where_the_numba_engine_leaves_it(shuffle):
    numpy_engine, numba_engine = fit("numpy", shuffle=shuffle), fit("numba", shuffle=shuffle)
    got, expected = numpy_engine._random_state.get_state(), numba_engine._random_state.get_state()
    assert_array_equal(got[1], expected[1])
    assert got[2:] == expected[2:]


def _record_calls(monkeypatch):
    """The ``n_epochs`` of each call fits make from now on of the numpy engine (the
    length of its last argument, ``losses``)."""
    calls = []
    run_epochs = reference.run_epochs

    def recorded(*args):
        calls.append(args[-1].shape[0])
        return run_epochs(*args)

    monkeypatch.setattr(reference, "run_epochs", recorded)
    return calls


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_several_epochs_a_call_give_the_bits_of_one(monkeypatch, dtype):
    calls = _record_calls(monkeypatch)
    together = fit("numpy", dtype)
    # The first call runs one epoch; the next, sized to CALL_SECONDS (0.1 s, some 300
    # epochs here), runs the rest.
    assert calls[0] == 1 and len(calls) <= 3 and sum(min(n, 11) for n in calls[1:]) == 11
    calls.clear()
    # A callback brings the fit back to Python after every epoch.
    apart = fit("numpy", dtype, callbacks=lambda model, info: False)
    assert calls == [1] * 12
    for got, expected in zip(together.coefs_ + together.intercepts_,
                             apart.coefs_ + apart.intercepts_):  # fmt: skip
        assert_array_equal(got, expected)
    assert together.loss_curve_ == apart.loss_curve_
    assert together._random_state.get_state()[2] == apart._random_state.get_state()[2]
