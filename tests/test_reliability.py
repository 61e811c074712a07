"""Same seed, same bits: across fits, processes, Numba thread counts and Python threads;
and a float32 fit that copies its input at most once."""

import hashlib
import os
import subprocess
import sys
import textwrap
import threading
import tracemalloc

import numpy as np
import pytest
from sklearn.datasets import make_classification

from fastnn import MLPClassifier, MLPRegressor

BACKENDS = ["numba", "numpy"]
SOLVERS = ["sgd", "adam", "lbfgs"]


def data():
    return make_classification(300, 6, n_informative=4, n_classes=3, random_state=0)


def fit(backend, solver, **params):
    X, y = data()
    model = MLPClassifier(
        (16, 8), solver=solver, max_iter=15, random_state=3, backend=backend, **params
    )
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit(X, y)


def digest(model):
    h = hashlib.sha256()
    for W in model.coefs_ + model.intercepts_:
        h.update(np.ascontiguousarray(W).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_repeated_fits_are_bit_identical(backend, solver):
    assert digest(fit(backend, solver)) == digest(fit(backend, solver))


SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_reliability import digest, fit
    print(" ".join(digest(fit(b, s, dropout=0.1 if s != "lbfgs" else None))
                   for b in ("numba", "numpy") for s in ("sgd", "adam", "lbfgs")))
    """
)


def _digests_in_new_process(**env):
    script = SCRIPT.format(tests=os.path.dirname(__file__))
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=dict(os.environ, PYTHONWARNINGS="ignore", **env),
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def test_bit_identical_across_processes_and_numba_thread_counts():
    here = [
        digest(fit(b, s, dropout=0.1 if s != "lbfgs" else None)) for b in BACKENDS for s in SOLVERS
    ]
    one_thread = _digests_in_new_process(NUMBA_NUM_THREADS="1")
    two_threads = _digests_in_new_process(NUMBA_NUM_THREADS="2")
    assert one_thread == two_threads == here


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_threads_fitting_get_the_serial_results(backend):
    X, y = data()
    settings = [dict(solver="adam", random_state=1), dict(solver="sgd", random_state=2)]
    serial = [digest(MLPClassifier((16,), max_iter=20, backend=backend, **s).fit(X, y))
              for s in settings]  # fmt: skip
    got = [None, None]

    def work(i):
        model = MLPClassifier((16,), max_iter=20, backend=backend, **settings[i])
        got[i] = digest(model.fit(X, y))

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert got == serial


def test_float32_fit_copies_its_input_at_most_once():
    # 1,000,000 x 50 float32 is 200 MB. tracemalloc sees NumPy's allocations; the fit's
    # peak beyond X must stay under one more copy of X (measured: 12 MB, 0.06 of X.nbytes,
    # for the targets, sample weights, row order and per-layer buffers).
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1_000_000, 50), dtype=np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    model = MLPRegressor(hidden_layer_sizes=(8,), max_iter=1, random_state=0)
    model.fit(X[:1000], y[:1000])  # compile outside the measurement
    tracemalloc.start()
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert model.coefs_[0].dtype == np.float32
    assert peak < 1.0 * X.nbytes, f"peak {peak / X.nbytes:.2f} x X.nbytes"
