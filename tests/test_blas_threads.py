"""The BLAS thread choice: one thread for small products or a busy machine, restored after."""

import os

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from fastnn import MLPClassifier, _blas


def _blas_threads():
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_small_products_use_one_thread():
    assert _blas.threads_for([2, 64, 64, 1], 64) == 1


def test_large_products_keep_the_default_only_with_a_core_to_spare(monkeypatch):
    monkeypatch.delenv("FASTNN_BLAS_THREADS", raising=False)
    cores = os.cpu_count()
    monkeypatch.setattr(os, "getloadavg", lambda: (cores + 1.0, 0.0, 0.0))
    assert _blas.threads_for([2, 512, 512, 1], 128) == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    expected = 1 if cores == 1 else None
    assert _blas.threads_for([2, 512, 512, 1], 128) == expected


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("FASTNN_BLAS_THREADS", "2")
    assert _blas.threads_for([2, 4, 1], 4) == 2


def test_the_limit_is_lifted_after_fit():
    seen = []
    X = np.random.RandomState(0).randn(40, 2)
    y = (X[:, 0] > 0).astype(int)
    callback = lambda model, info: seen.append(_blas_threads())  # noqa: E731
    # The test suite runs BLAS on one thread; start from two to see the change.
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        MLPClassifier((4,), max_iter=3, tol=0, callbacks=callback, random_state=0).fit(X, y)
        after = _blas_threads()
    assert before == [2] * len(before)
    assert seen == [[1] * len(before)] * 3
    assert after == before
