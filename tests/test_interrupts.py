"""Ctrl-C during fit: the model keeps the last finished epoch, consistent, and predicts."""

import _thread
import threading
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification

from fastnn import MLPClassifier

BACKENDS = ["numba", "numpy"]


def _interrupt_after(seconds):
    timer = threading.Timer(seconds, _thread.interrupt_main)
    timer.start()
    return timer


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_sigint_keeps_a_consistent_model(backend, solver):
    X, y = make_classification(2000, 10, n_informative=6, n_classes=3, random_state=0)
    params = dict(solver=solver, max_iter=100_000, tol=0.0, n_iter_no_change=10**9)
    model = MLPClassifier((64, 64), random_state=0, backend=backend, **params)
    model.set_params(max_fun=10**9)
    MLPClassifier((64, 64), max_iter=1, solver=solver, backend=backend).fit(X[:50], y[:50])
    timer = _interrupt_after(0.5)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(X, y)  # would run for hours; the signal stops it
    finally:
        timer.cancel()
    assert any("Training interrupted by user." in str(w.message) for w in caught)
    assert 0 < model.n_iter_ < 100_000
    if solver != "lbfgs":
        assert len(model.loss_curve_) == model.n_iter_
        assert model.t_ == model.n_iter_ * X.shape[0]
        assert model.loss_ == model.loss_curve_[-1]
    assert all(np.isfinite(W).all() for W in model.coefs_ + model.intercepts_)
    assert model.predict(X).shape == y.shape


def test_sigint_after_fit_is_an_ordinary_keyboard_interrupt():
    # The fit restores Python's own handler: Ctrl-C outside a fit raises as usual.
    X, y = make_classification(100, 4, random_state=0)
    MLPClassifier((4,), max_iter=2).fit(X, y)
    with pytest.raises(KeyboardInterrupt):
        _thread.interrupt_main()
        threading.Event().wait(0.5)  # the interrupt lands during this wait
