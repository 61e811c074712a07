"""The BLAS thread count during a fit: one (or FASTNN_BLAS_THREADS), restored after."""

import os

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from fastnn import MLPClassifier, _blas_threads


def _pool_threads():
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_one_thread_by_default_whatever_the_load(monkeypatch):
    # The count changes the rounding of large products: it must not follow the load.
    monkeypatch.delenv("FASTNN_BLAS_THREADS", raising=False)
    for load in (0.0, 100.0):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
        assert _blas_threads.threads_for() == 1


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("FASTNN_BLAS_THREADS", "2")
    assert _blas_threads.threads_for() == 2


def test_the_limit_is_lifted_after_fit():
    seen = []
    X = np.random.RandomState(0).randn(40, 2)
    y = (X[:, 0] > 0).astype(int)
    callback = lambda model, info: seen.append(_pool_threads())  # noqa: E731
    # The test suite runs BLAS on one thread; start from two to see the change.
    with threadpool_limits(limits=2, user_api="blas"):
        before = _pool_threads()
        MLPClassifier((4,), max_iter=3, tol=0, callbacks=callback, random_state=0).fit(X, y)
        after = _pool_threads()
    assert before == [2] * len(before)
    assert seen == [[1] * len(before)] * 3
    assert after == before
