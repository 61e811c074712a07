"""The model-parallel epoch kernel (``fastnn/kernels/split.py``): each worker owns half
of every hidden layer's units, and its products go to BLAS on strided views
(``fastnn/kernels/gemm.py``).

As for the row split (``test_workers.py``): two workers give the bits of one, a worker
1 that starts late changes nothing, training that stops mid-call stops the same way,
and the numbers are the reference's. The kernels are driven directly on small networks
(the engine only picks them for wide layers, :func:`splits_units`), and a wide network
is fitted against scikit-learn.
"""

import threading

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from test_parity import MIN_EPOCHS, assert_same_fit, fit_pair
from test_workers import _record_calls, problem, scalars_for
from test_workers import run as run_epochs

from fastnn import _codes as C
from fastnn import _workers, kernels, reference
from fastnn._workers import fit_workers
from fastnn.kernels import epoch, handover, split
from fastnn.kernels.gemm import product
from fastnn.layout import layer_sizes, work_size

BATCH = 16
ON_ONE, ON_TWO = _workers.drivers(split.run_epochs, split.helper)


def run(kernel, dtype, batch=BATCH, hidden=(48, 32), n_epochs=3, n_samples=5 * BATCH, **kw):
    """Everything ``kernel`` (a driver or ``reference.run_epochs``) returns or changes
    (``test_workers.run``)."""
    engine = reference if kernel is reference.run_epochs else kernels
    return run_epochs(engine, dtype, 1, kernel=kernel, batch=batch, hidden=hidden,
                      n_epochs=n_epochs, n_samples=n_samples, **kw)  # fmt: skip


CASES = {
    "plain": {},
    "one-hidden-layer": {"hidden": (40,)},
    "three-hidden-layers": {"hidden": (40, 33, 24), "activation": C.TANH},
    "binary": {"output": C.BINARY_LOG_LOSS, "activation": C.LOGISTIC},
    "regression": {"output": C.SQUARED_ERROR, "solver": C.SGD},
    "rmsprop": {"solver": C.RMSPROP, "activation": C.LEAKY_RELU},
    "adamw": {"solver": C.ADAMW},
    # A last batch of one row: share 1 gathers nothing.
    "one-row-last-batch": {"n_samples": 4 * BATCH + 1},
    "odd-last-batch": {"n_samples": 4 * BATCH + 7},
    "batches-of-one-row": {"n_samples": 9, "batch": 1},
    # Layers narrower than the 16-unit blocks: shares of unequal size, one unit wide.
    "narrow": {"hidden": (3, 1)},
    "converges-mid-call": {"n_iter_no_change": 0, "tol": 10.0, "n_epochs": 8},
    "diverges-mid-call": {"solver": C.SGD, "lr": 1e12, "n_epochs": 6},
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_two_workers_give_the_bits_of_one(case, dtype):
    one = run(ON_ONE, dtype, **CASES[case])
    two = run(ON_TWO, dtype, **CASES[case])
    for name in one:
        assert_array_equal(two[name], one[name], err_msg=name)


@pytest.mark.parametrize("case", [c for c in CASES if c != "diverges-mid-call"])
def test_the_unit_split_matches_the_reference(case):
    got = run(ON_TWO, np.float64, **CASES[case])
    expected = run(reference.run_epochs, np.float64, **CASES[case])
    assert_array_equal(got["done"], expected["done"])
    assert_array_equal(got["idx"], expected["idx"])  # the same shuffles
    assert_array_equal(got["rng_state"], expected["rng_state"])
    # The layers' products are summed in two parts, in another order than one product.
    for name in ("losses", "theta", "grad", "state"):
        assert_allclose(got[name], expected[name], rtol=1e-9, atol=1e-12, err_msg=name)
    assert got["counts"][C.BATCH_COUNT] == expected["counts"][C.BATCH_COUNT]


def test_the_unit_split_matches_the_reference_in_float32():
    got = run(ON_TWO, np.float32, n_epochs=1)
    expected = run(reference.run_epochs, np.float32, n_epochs=1)
    for name in ("losses", "theta"):  # one epoch: the rounding has not grown yet
        assert_allclose(got[name], expected[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_stopping_cases_do_stop_early():
    converged = run(ON_TWO, np.float64, **CASES["converges-mid-call"])
    assert converged["done"][0] < 8 and converged["counts"][C.STOP] == C.CONVERGED
    diverged = run(ON_TWO, np.float64, **CASES["diverges-mid-call"])
    assert diverged["done"][0] < 6 and diverged["counts"][C.STOP] == C.DIVERGED
    assert np.isfinite(diverged["theta"]).all()


def test_worker_1_starting_late_or_never_changes_nothing(monkeypatch):

    def late(fn, args):  # worker 1 starts only after worker 0 has finished
        return lambda: fn(*args)

    expected = run(ON_ONE, np.float64)
    monkeypatch.setattr(_workers, "start_helper", late)
    got = run(ON_TWO, np.float64)
    for name in expected:
        assert_array_equal(got[name], expected[name], err_msg=name)


def _direct_call(helper, ctl, n_epochs=20):
    """``split.run_epochs`` with ``helper`` as worker 1, through ``on_two_threads``, on
    the counters ``ctl``: the epochs run."""
    X, Y, sw, sizes, theta = problem(np.float64, 5 * BATCH)
    scalars = scalars_for(sizes, C.ADAM, batch=BATCH)
    grad, state = np.zeros_like(theta), np.zeros(3 * theta.shape[0])
    work = np.zeros(work_size(sizes, BATCH))
    idx = np.arange(5 * BATCH, dtype=np.int64)
    rng_state = np.append(*np.random.RandomState(0).get_state()[1:3]).astype(np.uint32)
    losses = np.zeros(n_epochs)
    codes = np.array([C.RELU, C.LOG_LOSS, C.ADAM], dtype=np.int64)
    acc = np.zeros(handover.N_ACC)
    data, network, params = (X, Y, sw, idx), (sizes, codes), (theta, grad, state)
    args = (data, network, params, scalars, work, rng_state, losses, (ctl, acc))
    _workers.on_two_threads(split.run_epochs, helper, args, ctl)
    return int(ctl[handover.EPOCHS])


@pytest.mark.skipif(fit_workers() < 2, reason="two workers need two CPUs and Numba threads")
def test_worker_1_runs_shares():
    ctl = np.zeros(handover.N_CTL, dtype=np.int64)
    assert _direct_call(split.helper, ctl) == 20
    assert ctl[handover.DONE] > 0  # 20 epochs x 5 batches x 5 phases: worker 1 took some


def test_an_error_in_worker_1_halts_worker_0():
    # Worker 1 has claimed the first phase's second share, then fails: worker 0, which
    # waits for that share, must stop rather than wait forever, and the error surfaces.
    ctl = np.zeros(handover.N_CTL, dtype=np.int64)
    ctl[handover.CLAIMED] = 1

    def fails(*args):
        raise ZeroDivisionError("in worker 1")

    outcome = []

    def call():
        try:
            _direct_call(fails, ctl)
        except ZeroDivisionError as error:
            outcome.append(error)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "worker 0 still waits for worker 1's share"
    assert outcome and ctl[handover.HALT] == 1


# --- Which fits run it -----------------------------------------------------------------


def test_wide_layers_split_units_and_the_rest_split_rows():
    wide = layer_sizes(2, (512, 512), 1)
    assert kernels.splits_units(wide, 128)
    assert kernels.epoch_workers(wide, 128) == (split.run_epochs, split.helper, True)
    assert _workers.epochs_runner(wide, 128, workers=2) is ON_TWO
    assert _workers.epochs_runner(wide, 128, workers=1) is ON_ONE
    assert not kernels.splits_units(wide, 128, dropout=True)  # masks are drawn by rows
    assert kernels.epoch_workers(wide, 128, dropout=True)[0] is epoch.run_epochs
    # 256 x 256 weights: unit split for batches up to 64 rows, row split above.
    assert kernels.splits_units(layer_sizes(2, (256, 256), 1), 64)
    assert not kernels.splits_units(layer_sizes(2, (256, 256), 1), 128)
    for hidden, batch in [((64, 64), 64), ((128, 64), 32), ((100,), 200)]:
        assert not kernels.splits_units(layer_sizes(64, hidden, 10), batch)


def test_a_wide_fit_is_scikit_learns(monkeypatch):
    """A network the engine trains model-parallel reproduces scikit-learn's fit."""
    ran = _record_calls(monkeypatch)
    params = dict(hidden_layer_sizes=(256, 256), batch_size=32, max_iter=MIN_EPOCHS)
    assert kernels.epoch_workers(layer_sizes(2, (256, 256), 1), 32)[0] is split.run_epochs
    got, expected, X = fit_pair("binary", "numba", **params)
    assert ran  # the fit ran its epochs in the numba engine, by the unit split
    assert_same_fit(got, expected, X)


# --- Strided products ------------------------------------------------------------------


def _views(M):
    """Views of ``M`` with unit stride along one axis, as the kernel makes them."""
    n, m = M.shape
    return {
        "whole": M,
        "columns": M[:, m // 3 :],
        "rows": M[n // 3 :, :],
        "transposed": M.T,
        "transposed columns": M[:, : m // 2].T,
        "one column": M[:, 1:2],
        "one row": M[2:3, :],
        "one row of the transpose": M.T[1:2, :],
    }


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gemm_multiplies_strided_views(dtype):
    rng = np.random.default_rng(0)
    # BLAS's rounding, against float64: sums of up to 7 products of values about 1, so
    # float32 loses about 1e-6 absolute (more than 1e-5 relative where terms cancel).
    tol = {"rtol": 1e-12, "atol": 1e-12} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-5}
    pairs = 0
    for A in _views(rng.normal(size=(9, 7)).astype(dtype)).values():
        k = A.shape[1]
        # B from a larger matrix, or the transpose of one, so that every view fits A.
        sources = [rng.normal(size=(k + 4, 11)), rng.normal(size=(11, k + 4)).T]
        for source in sources:
            for B in _views(source.astype(dtype)).values():
                B = B[:k]
                if B.shape[0] != k or B.shape[1] == 0:
                    continue
                # C: a block of columns of a larger matrix, as the kernel writes.
                big = rng.normal(size=(A.shape[0], B.shape[1] + 5)).astype(dtype)
                C_ = big[:, 2 : 2 + B.shape[1]]
                before = big.copy()
                product(A, B, C_)
                expected = A.astype(np.float64) @ B
                assert_allclose(C_, expected, **tol)
                assert_array_equal(big[:, :2], before[:, :2])  # nothing outside the block
                assert_array_equal(big[:, 2 + B.shape[1] :], before[:, 2 + B.shape[1] :])
                product(A, B, C_, beta=1.0)  # C = A @ B + C
                assert_allclose(C_, 2 * expected, **tol)
                pairs += 1
    assert pairs > 60


def test_gemm_writes_a_one_column_view_of_a_transpose():
    # One column of a transposed matrix: its rows are one entry apart.
    A, B = np.arange(8.0).reshape(4, 2), np.ones((2, 1))
    big = np.zeros((3, 4))
    C_ = big.T[:, 0:1]
    product(A, B, C_)
    assert_array_equal(C_[:, 0], [1, 5, 9, 13])
    assert_array_equal(big[1:], 0)  # nothing written past the column


def test_gemm_handles_empty_and_rejects_bad_views():
    C_ = np.ones((3, 4))
    product(np.zeros((3, 0)), np.zeros((0, 4)), C_, beta=0.5)  # k = 0: C = beta C
    assert_array_equal(C_, 0.5)
    C_[:] = np.nan
    product(np.zeros((3, 0)), np.zeros((0, 4)), C_)  # beta = 0: C is not read
    assert_array_equal(C_, 0.0)
    with pytest.raises(ValueError, match="shapes"):
        product(np.ones((3, 2)), np.ones((3, 4)), C_)
    with pytest.raises(ValueError, match="unit stride along their rows"):
        product(np.ones((4, 2)), np.ones((2, 3)), np.ones((3, 4)).T)
    with pytest.raises(ValueError, match="unit stride along one axis"):
        product(np.ones((3, 8))[:, ::2], np.ones((4, 4)), C_)
    with pytest.raises(Exception, match="(?i)typing|no implementation|cannot"):
        product(np.ones((3, 2), dtype=np.float32), np.ones((2, 4)), C_)  # mixed dtypes
