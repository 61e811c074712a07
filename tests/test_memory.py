"""Memory: a fit makes at most one extra copy of its input, and float32 stays float32.

The input is 1,000,000 x 50 float32 (200 MB). ``tracemalloc`` sees every NumPy
allocation (NumPy reports its buffers to it), so the peak it records during ``fit``,
started after ``X`` exists, is what the fit allocated on top of ``X``. One epoch keeps
the module to a few seconds.
"""

import tracemalloc
import warnings

import numpy as np
import pytest

from fastnn import MLPClassifier, MLPRegressor

N_SAMPLES, N_FEATURES = 1_000_000, 50


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES), dtype=np.float32)
    targets = {
        MLPRegressor: X[:, 0] + 0.5 * X[:, 1],
        MLPClassifier: (X[:, 0] > 0).astype(np.int64),
    }
    return X, targets


def one_epoch(estimator, backend):
    return estimator(
        hidden_layer_sizes=(8,), max_iter=1, dtype=None, random_state=0, backend=backend
    )


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("estimator", [MLPRegressor, MLPClassifier])
def test_fit_makes_at_most_one_extra_copy_of_X(data, estimator, backend):
    X, targets = data
    y = targets[estimator]
    one_epoch(estimator, backend).fit(X[:1000], y[:1000])  # compile outside the measurement
    model = one_epoch(estimator, backend)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # one epoch does not converge
            model.fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Measured (either engine): 12 MB, 0.06 of X.nbytes, for the regressor (targets,
    # sample weights, row order, per-batch buffers); 56 MB, 0.28 of X.nbytes, for the
    # classifier (its labels are validated, binarised and cast: about 56 bytes per
    # sample whatever the number of features). X itself is used in place.
    assert peak < 1.1 * X.nbytes, f"peak {peak / 1e6:.0f} MB = {peak / X.nbytes:.2f} X.nbytes"


@pytest.mark.parametrize("estimator", [MLPRegressor, MLPClassifier])
def test_float32_input_stays_float32(data, estimator):
    X, targets = data
    X, y = X[:5000], targets[estimator][:5000]
    model = one_epoch(estimator, "numba")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    assert all(W.dtype == np.float32 for W in model.coefs_ + model.intercepts_)
    output = model.predict(X) if estimator is MLPRegressor else model.predict_proba(X)
    assert output.dtype == np.float32
    assert model.predict(X).shape == y.shape


def test_float64_input_computes_in_float64(data):
    X, targets = data
    X, y = X[:5000].astype(np.float64), targets[MLPRegressor][:5000]
    model = one_epoch(MLPRegressor, "numba")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    assert all(W.dtype == np.float64 for W in model.coefs_ + model.intercepts_)
    assert model.predict(X).dtype == np.float64
