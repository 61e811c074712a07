"""Hyperparameter search across processes: joblib's loky workers, and a Dask cluster.

fastnn estimators clone and pickle like any scikit-learn estimator, so ``GridSearchCV``
can send them to worker processes; each worker loads the compiled kernels from Numba's
disk cache. With a fixed ``random_state`` every fit is deterministic, so the search
finds the same best parameters and the same scores wherever it runs.
"""

import time

import joblib
import pytest
from numpy.testing import assert_allclose
from problems import load
from sklearn.model_selection import GridSearchCV

from fastnn import MLPClassifier

PARAM_GRID = {"hidden_layer_sizes": [(4,), (16,)], "alpha": [1e-4, 1e-1]}
# Scores are accuracies of deterministic fits: equal but for (unexpected) rounding in
# BLAS's threaded products, which this tolerance would still accept.
RTOL = 1e-12


def _search(n_jobs=None):
    model = MLPClassifier(max_iter=30, learning_rate_init=0.01, random_state=0)
    return GridSearchCV(model, PARAM_GRID, cv=3, n_jobs=n_jobs)


@pytest.fixture(scope="module")
def serial():
    """The search run in this process: what every parallel run must reproduce."""
    X, y = load("binary")
    return _search().fit(X, y)


def _assert_same_search(got, expected):
    assert got.best_params_ == expected.best_params_
    for key in ("mean_test_score", "std_test_score"):
        assert_allclose(got.cv_results_[key], expected.cv_results_[key], rtol=RTOL)
    assert_allclose(got.best_score_, expected.best_score_, rtol=RTOL)
    X, _ = load("binary")
    assert_allclose(got.best_estimator_.predict_proba(X), expected.best_estimator_.predict_proba(X))


def test_grid_search_with_process_workers(serial):
    X, y = load("binary")
    with joblib.parallel_config(backend="loky"):
        got = _search(n_jobs=2).fit(X, y)
    _assert_same_search(got, serial)


@pytest.fixture(scope="module")
def dask_client():
    """Two single-threaded worker processes on the loopback interface, closed after."""
    distributed = pytest.importorskip(
        "distributed", reason="the distributed extra: pip install 'fastnn[distributed]'"
    )
    started = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        with distributed.Client(cluster) as client:
            client.wait_for_workers(2, timeout=30)
            assert time.perf_counter() - started < 30, "the cluster took over 30 s to start"
            yield client
    finally:
        stopping = time.perf_counter()
        cluster.close(timeout=30)
    assert cluster.status.name == "closed"
    assert time.perf_counter() - stopping < 30, "the cluster took over 30 s to stop"


def test_grid_search_on_a_dask_cluster(serial, dask_client):
    X, y = load("binary")
    with joblib.parallel_backend("dask"):
        got = _search(n_jobs=-1).fit(X, y)
    _assert_same_search(got, serial)
    workers = dask_client.scheduler_info()["workers"]
    assert len(workers) == 2
    assert all(worker["host"] == "127.0.0.1" for worker in workers.values())
