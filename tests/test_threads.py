"""Thread safety: models fitted at the same time in two threads each get exactly the
result they get alone.

The numba kernels release the GIL (``nogil=True``), so two fits really run at once on
two cores; each fit owns its buffers, its random state and its optimizer state. The
pairs below mix estimators, dtypes, solvers and engines, so that any state shared by
mistake (a module-level buffer, a cached array, the random generator) would show as
a difference in the last bit.
"""

import hashlib
import threading
import time

import numpy as np
import pytest
from sklearn.datasets import make_classification

from fastnn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X, Y_CLASS = make_classification(1000, 12, n_informative=6, n_classes=3, random_state=0)
Y_REAL = Y_CLASS.astype(float) + 0.1 * X[:, 0]

MODELS = {
    "classifier-adam-float64": lambda backend: MLPClassifier(
        hidden_layer_sizes=(32,), solver="adam", dtype="float64", random_state=1, **common(backend)
    ),
    "regressor-sgd-float32": lambda backend: MLPRegressor(
        hidden_layer_sizes=(32,), solver="sgd", dtype="float32", random_state=2, **common(backend)
    ),
    "classifier-lbfgs-float64": lambda backend: MLPClassifier(
        hidden_layer_sizes=(32,), solver="lbfgs", random_state=3, **common(backend)
    ),
    "regressor-rmsprop-dropout": lambda backend: MLPRegressor(
        hidden_layer_sizes=(32, 16),
        solver="rmsprop",
        dropout=0.2,
        random_state=4,
        **common(backend),
    ),
}


def common(backend):
    """Enough epochs that two fits overlap for a good part of a second."""
    max_iter = 300 if backend == "numba" else 60
    return {"max_iter": max_iter, "tol": 0.0, "n_iter_no_change": 10**6, "backend": backend}


PAIRS = [
    ("classifier-adam-float64", "regressor-sgd-float32"),
    ("classifier-lbfgs-float64", "regressor-rmsprop-dropout"),
]


def targets(name):
    return Y_CLASS if name.startswith("classifier") else Y_REAL


def digest(model):
    h = hashlib.sha256()
    for W in model.coefs_ + model.intercepts_:
        h.update(np.ascontiguousarray(W).tobytes())
    return h.hexdigest()


def run_together(jobs):
    """Run the callables in ``jobs`` in threads released at the same moment; return
    their results and each one's (start, end) times. Exceptions are re-raised."""
    barrier = threading.Barrier(len(jobs))
    results, spans, errors = [None] * len(jobs), [None] * len(jobs), []

    def work(i):
        try:
            barrier.wait()
            start = time.perf_counter()
            results[i] = jobs[i]()
            spans[i] = (start, time.perf_counter())
        except BaseException as error:  # reported in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results, spans


def overlap(spans):
    """Seconds during which all the jobs were running."""
    return min(end for _, end in spans) - max(start for start, _ in spans)


@pytest.mark.parametrize("backends", [("numba", "numba"), ("numpy", "numpy"), ("numba", "numpy")])
@pytest.mark.parametrize("pair", PAIRS, ids=lambda pair: "+".join(pair))
def test_two_fits_at_once_get_their_serial_results(pair, backends):
    serial = [
        digest(MODELS[name](backend).fit(X, targets(name))) for name, backend in zip(pair, backends)
    ]
    jobs = [
        lambda name=name, backend=backend: MODELS[name](backend).fit(X, targets(name))
        for name, backend in zip(pair, backends)
    ]
    models, spans = run_together(jobs)
    assert overlap(spans) > 0, spans  # the two fits did run at the same time
    assert [digest(model) for model in models] == serial


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_the_same_model_class_twice_at_once(backend):
    # Two fits of the same configuration share every compiled function and code path.
    make = MODELS["classifier-adam-float64"]
    serial = digest(make(backend).fit(X, Y_CLASS))
    models, spans = run_together([lambda: make(backend).fit(X, Y_CLASS)] * 2)
    assert overlap(spans) > 0
    assert [digest(model) for model in models] == [serial, serial]


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_predicting_while_another_thread_fits(backend):
    fitted = MODELS["classifier-adam-float64"](backend).fit(X, Y_CLASS)
    expected_proba = fitted.predict_proba(X)
    serial = digest(MODELS["regressor-sgd-float32"](backend).fit(X, Y_REAL))

    def predict_many():
        return [fitted.predict_proba(X) for _ in range(50)]

    def fit_other():
        return MODELS["regressor-sgd-float32"](backend).fit(X, Y_REAL)

    (probas, model), spans = run_together([predict_many, fit_other])
    assert overlap(spans) > 0
    for proba in probas:
        np.testing.assert_array_equal(proba, expected_proba)
    assert digest(model) == serial
