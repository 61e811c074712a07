"""Sparse input: fitted and predicted as scikit-learn fits it, never made dense.

A sparse fit is compared with scikit-learn's fit of the same matrix (float64, the same
seed: the same draws, batches and arithmetic, so ``loss_curve_`` agrees to rounding),
and with fastnn's own fit of the matrix made dense, for every solver and both engines.
"""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.neural_network import MLPClassifier as SKClassifier
from sklearn.neural_network import MLPRegressor as SKRegressor

from fastnn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

BACKENDS = ["numba", "numpy"]
# The tolerance against scikit-learn; the fits agree far closer (about 1e-15).
RTOL = 1e-6
# Sparse against fastnn's own dense fit: the same arithmetic but for the order of the
# first layer's sums (BLAS's for dense input, row by row for sparse).
RTOL_DENSE = 1e-12
BASE = {"hidden_layer_sizes": (8, 6), "random_state": 0, "max_iter": 12, "tol": 0.0,
        "n_iter_no_change": 1000, "batch_size": 32, "learning_rate_init": 0.01}  # fmt: skip


def sparse_problem(n=300, n_features=60, density=0.08, seed=0):
    """A sparse classification and regression problem (labels and targets from a
    linear function of the sparse rows)."""
    rng = np.random.RandomState(seed)
    X = scipy.sparse.random(n, n_features, density=density, format="csr", random_state=rng)
    X.data *= 3.0
    score = X @ rng.randn(n_features)
    y_class = np.digitize(score, np.quantile(score, [0.33, 0.66]))
    return X, y_class, score


def pairs(regressor):
    X, y_class, y_reg = sparse_problem()
    if regressor:
        return X, y_reg, MLPRegressor, SKRegressor
    return X, y_class, MLPClassifier, SKClassifier


def curve(model):
    return np.array(getattr(model, "loss_curve_", None) or [model.loss_])


@pytest.mark.parametrize("regressor", [False, True], ids=["classifier", "regressor"])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_sparse_fit_matches_scikit_learn_and_dense(regressor, solver, backend):
    X, y, ours, theirs = pairs(regressor)
    params = {**BASE, "solver": solver}
    got = ours(backend=backend, dtype="float64", **params).fit(X, y)
    expected = theirs(**params).fit(X, y)
    dense = ours(backend=backend, dtype="float64", **params).fit(X.toarray(), y)
    assert_allclose(curve(got), curve(expected), rtol=RTOL)
    assert_allclose(curve(got), curve(dense), rtol=RTOL_DENSE)
    # Weights are of order 0.1 to 1; lbfgs grows the last-bit differences of the sums'
    # order by about ten every few iterations (tests/test_parity.py): 3e-14 after 12.
    for W, W_dense in zip(got.coefs_, dense.coefs_):
        assert_allclose(W, W_dense, rtol=RTOL_DENSE, atol=1e-12)
    if regressor:
        assert_allclose(got.predict(X), expected.predict(X), rtol=RTOL, atol=1e-12)
        assert_allclose(got.predict(X), got.predict(X.toarray()), rtol=RTOL_DENSE, atol=1e-14)
    else:
        assert_allclose(got.predict_proba(X), expected.predict_proba(X), rtol=RTOL, atol=1e-12)
        assert_allclose(
            got.predict_proba(X), got.predict_proba(X.toarray()), rtol=RTOL_DENSE, atol=1e-14
        )
        assert_array_equal(got.predict(X), expected.predict(X))
        assert got.score(X, y) == pytest.approx(expected.score(X, y))


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-4)])
def test_the_two_engines_are_twins_on_sparse_input(dtype, rtol):
    # The numba kernels (fastnn/kernels/sparse.py) against their twin, the reference's
    # run_epochs and predict with SciPy's products: equal but for the order of sums
    # (float32: its rounding, as tests/test_fuzz.py allows).
    X, y, _, _ = pairs(regressor=False)
    X = X.astype(dtype)
    params = {**BASE, "dropout": 0.2}
    numba = MLPClassifier(backend="numba", dtype=dtype, **params).fit(X, y)
    numpy = MLPClassifier(backend="numpy", dtype=dtype, **params).fit(X, y)
    assert_allclose(curve(numba), curve(numpy), rtol=rtol)
    assert_allclose(numba.predict_proba(X), numpy.predict_proba(X), rtol=rtol, atol=rtol / 100)


FORMATS = [
    scipy.sparse.csr_matrix,
    scipy.sparse.csc_matrix,
    scipy.sparse.csr_array,
    scipy.sparse.csc_array,
    scipy.sparse.coo_matrix,  # converted to CSR, as scikit-learn converts it
]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_format_fits_as_csr(fmt, backend):
    X, y, _, _ = pairs(regressor=False)
    reference = MLPClassifier(backend=backend, dtype="float64", **BASE).fit(X, y)
    got = MLPClassifier(backend=backend, dtype="float64", **BASE).fit(fmt(X), y)
    assert_array_equal(curve(got), curve(reference))
    assert_array_equal(got.predict_proba(fmt(X)), reference.predict_proba(X))


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_sparse_matches_float32_dense(backend):
    X, y, _, _ = pairs(regressor=False)
    X32 = X.astype(np.float32)
    got = MLPClassifier(backend=backend, dtype="float32", **BASE).fit(X32, y)
    dense = MLPClassifier(backend=backend, dtype="float32", **BASE).fit(X32.toarray(), y)
    assert got.coefs_[0].dtype == np.float32
    # float32 rounding, summed in another order in the first layer.
    assert_allclose(curve(got), curve(dense), rtol=1e-5)
    assert_allclose(got.predict_proba(X32), dense.predict_proba(X32.toarray()), atol=1e-5)
    # float64 sparse input, dtype=None: trained in float64; float32 input stays float32.
    assert MLPClassifier(**BASE).fit(X, y).coefs_[0].dtype == np.float64
    assert MLPClassifier(**BASE).fit(X32, y).coefs_[0].dtype == np.float32


OPTIONS = {
    "early_stopping": {"early_stopping": True, "validation_fraction": 0.2},
    "dropout": {"dropout": 0.3},
    "adamw": {"solver": "adamw", "alpha": 0.01},
    "rmsprop": {"solver": "rmsprop"},
    "nesterov": {"solver": "sgd", "momentum": 0.9, "nesterovs_momentum": True},
    "class_weight": {"class_weight": "balanced"},
    "no_hidden_layer": {"hidden_layer_sizes": ()},
    "one_wide_layer": {"hidden_layer_sizes": (300,)},
}


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_options_on_sparse_match_dense(option, backend):
    X, y, _, _ = pairs(regressor=False)
    params = {**BASE, **OPTIONS[option]}
    weights = np.random.RandomState(1).uniform(0.5, 2.0, X.shape[0])
    got = MLPClassifier(backend=backend, dtype="float64", **params)
    dense = MLPClassifier(backend=backend, dtype="float64", **params)
    got.fit(X, y, sample_weight=weights)
    dense.fit(X.toarray(), y, sample_weight=weights)
    assert_allclose(curve(got), curve(dense), rtol=RTOL_DENSE)
    if option == "early_stopping":
        assert_allclose(got.validation_scores_, dense.validation_scores_, rtol=RTOL_DENSE)
    assert_allclose(got.predict_proba(X), dense.predict_proba(X.toarray()), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_partial_fit_and_warm_start_on_sparse(backend):
    X, y, _, _ = pairs(regressor=False)
    got = MLPClassifier(backend=backend, dtype="float64", **BASE)
    dense = MLPClassifier(backend=backend, dtype="float64", **BASE)
    for start in range(0, 300, 100):
        rows = slice(start, start + 100)
        got.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        dense.partial_fit(X[rows].toarray(), y[rows], classes=[0, 1, 2])
    assert_allclose(curve(got), curve(dense), rtol=RTOL_DENSE)
    expected = SKClassifier(**BASE)
    for start in range(0, 300, 100):
        expected.partial_fit(X[start : start + 100], y[start : start + 100], classes=[0, 1, 2])
    assert_allclose(curve(got), expected.loss_curve_, rtol=RTOL)
    # warm_start continues on sparse data after a dense fit, and partial_fit mixes
    # them, as the same calls on dense data do.
    model = MLPClassifier(backend=backend, dtype="float64", warm_start=True, **BASE)
    all_dense = MLPClassifier(backend=backend, dtype="float64", warm_start=True, **BASE)
    model.fit(X.toarray(), y).fit(X, y)
    all_dense.fit(X.toarray(), y).fit(X.toarray(), y)
    assert len(model.loss_curve_) == 2 * BASE["max_iter"]
    assert_allclose(curve(model), curve(all_dense), rtol=RTOL_DENSE)
    for W, W_dense in zip(model.coefs_, all_dense.coefs_):
        assert_allclose(W, W_dense, rtol=RTOL_DENSE, atol=1e-14)
    mixed = MLPClassifier(backend=backend, dtype="float64", **BASE)
    for start, dense_rows in ((0, False), (100, True), (200, False)):
        rows = slice(start, start + 100)
        X_part = X[rows].toarray() if dense_rows else X[rows]
        mixed.partial_fit(X_part, y[rows], classes=[0, 1, 2])
    assert_allclose(curve(mixed), curve(dense), rtol=RTOL_DENSE)


def test_prediction_in_several_blocks_and_empty_rows():
    # More rows than one block of the numba engine's prediction, and rows with no
    # non-zero at all (the first layer's output is then its bias).
    X, y, _, _ = pairs(regressor=False)
    model = MLPClassifier(dtype="float64", **BASE).fit(X, y)
    big = scipy.sparse.vstack([X, scipy.sparse.csr_matrix((5, X.shape[1])), X]).tocsr()
    assert_allclose(model.predict_proba(big), model.predict_proba(big.toarray()), rtol=1e-12)
    numpy_model = MLPClassifier(backend="numpy", dtype="float64", **BASE).fit(X, y)
    assert_allclose(numpy_model.predict_proba(big), model.predict_proba(big), rtol=1e-12)


def test_int64_indices_are_taken():
    X, y, _, _ = pairs(regressor=False)
    X64 = X.copy()
    X64.indices = X64.indices.astype(np.int64)
    X64.indptr = X64.indptr.astype(np.int64)
    got = MLPClassifier(dtype="float64", **BASE).fit(X64, y)
    expected = MLPClassifier(dtype="float64", **BASE).fit(X, y)
    assert_array_equal(curve(got), curve(expected))


def test_bad_sparse_input_is_refused():
    X, y, _, _ = pairs(regressor=False)
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MLPClassifier(**BASE).fit(bad, y)
    model = MLPClassifier(**BASE).fit(X, y)
    with pytest.raises(ValueError, match="X has 59 features, but MLPClassifier is expecting 60"):
        model.predict(X[:, :59])


def test_sparse_input_is_never_made_dense(monkeypatch):
    X, y, _, _ = pairs(regressor=False)

    def refuse(*args, **kwargs):
        raise AssertionError("sparse input was made dense")

    for name in ("toarray", "todense", "__array__"):
        for cls in (scipy.sparse.csr_matrix, scipy.sparse.csr_array):
            monkeypatch.setattr(cls, name, refuse, raising=False)
    for backend in BACKENDS:
        for solver in ("adam", "lbfgs"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = MLPClassifier(backend=backend, solver=solver, **BASE).fit(X, y)
            model.predict_proba(X)
            model.score(X, y)


def test_worker_1_starting_late_changes_nothing(monkeypatch):
    # Worker 0 steps both halves of the first layer when worker 1 has not claimed one.
    from fastnn import _workers

    X, y, _ = sparse_problem(n=400, n_features=300, density=0.05)
    params = {**BASE, "max_iter": 6}
    with _workers.workers_forced(1):
        expected = MLPClassifier(dtype="float64", **params).fit(X, y)

    def late(fn, args):  # worker 1 starts only after worker 0 has finished
        return lambda: fn(*args)

    monkeypatch.setattr(_workers, "start_helper", late)
    with _workers.workers_forced(2):
        got = MLPClassifier(dtype="float64", **params).fit(X, y)
    for W1, W2 in zip(got.coefs_ + got.intercepts_, expected.coefs_ + expected.intercepts_):
        assert_array_equal(W1, W2)


def test_one_worker_or_two_give_the_same_bits():
    # Worker 1 takes half of the first layer's step when it claims it first: whoever
    # runs it, the arithmetic is the same.
    from fastnn._workers import workers_forced

    X, y, _ = sparse_problem(n=400, n_features=300, density=0.05)
    fits = []
    for workers in (1, 2):
        with workers_forced(workers):
            model = MLPClassifier(dtype="float64", solver="adam", **{**BASE, "max_iter": 8})
            fits.append(model.fit(X, y))
    for W1, W2 in zip(fits[0].coefs_ + fits[0].intercepts_, fits[1].coefs_ + fits[1].intercepts_):
        assert_array_equal(W1, W2)
    assert_array_equal(fits[0].loss_curve_, fits[1].loss_curve_)


MEMORY_SCRIPT = """
import json, sys, warnings
import numpy as np, scipy.sparse
from fastnn import MLPClassifier


def status(field):  # in bytes; VmRSS: resident now, VmHWM: its peak
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


n, d, per_row, hidden = 40_000, 50_000, 50, 50
rng = np.random.RandomState(0)
indptr = np.arange(0, n * per_row + 1, per_row, dtype=np.int32)
indices = rng.randint(0, d, n * per_row).astype(np.int32)
X = scipy.sparse.csr_matrix((rng.rand(n * per_row), indices, indptr), shape=(n, d))
y = rng.randint(0, 2, n)
warnings.simplefilter("ignore")
# Compile or load the kernels on a network too small to count (same types).
MLPClassifier((hidden,), max_iter=1, random_state=0).fit(X[:50, :100], y[:50])
# The peak so far (compiling, if the kernels were not in the cache) is forgotten:
# writing 5 to clear_refs resets VmHWM to the resident memory of now.
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS")
model = MLPClassifier((hidden,), max_iter=1, random_state=0).fit(X, y)
print(json.dumps({
    "growth": status("VmHWM") - before,
    "X": X.data.nbytes + X.indices.nbytes + X.indptr.nbytes,
    "params": sum(p.nbytes for p in model.coefs_ + model.intercepts_),
    "state": model._optimizer.state.nbytes,
}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc/self")
def test_a_sparse_fit_takes_at_most_one_more_X_beside_the_model():
    # A fresh process, so that its peak resident memory is this fit's: the fit may add
    # at most the size of X (one more copy) to the parameters and the optimizer's
    # state (Adam's moments and the epoch's starting weights). The first layer's
    # gradient is kept as compact rows (fastnn/kernels/sparse.py) and the rest of its
    # place in the gradient vector is never touched, so it takes no memory: resident
    # memory, not allocations, is what is measured. Measured here: the growth is 4.3
    # times the parameters, where 4 + X's share (1.2) are allowed.
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT], capture_output=True, text=True, check=True
    ).stdout
    m = json.loads(out.strip().splitlines()[-1])
    allowed = m["X"] + m["params"] + m["state"]
    assert m["growth"] <= allowed, {k: v / 1e6 for k, v in {**m, "allowed": allowed}.items()}
