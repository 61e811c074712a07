"""Ctrl-C during fit keeps exactly the model of the last completed epoch.

A timer thread sends the main thread SIGINT (``_thread.interrupt_main``) while a fit
that would run for many seconds is under way. scikit-learn's behaviour is the contract:
the fit returns, with the warning "Training interrupted by user.". fastnn's promise is
stronger: the model is then bit for bit the one a fit of ``n_iter_`` epochs (lbfgs:
iterations) would have given, with ``loss_curve_``, ``t_`` and ``loss_`` to match, so it
can predict and be trained further.
"""

import _thread
import threading
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification

from fastnn import MLPClassifier, MLPRegressor

N_SAMPLES = 2000
# Long enough that only the signal ends the fit (about 30 s at most), short enough that
# a lost signal fails the test instead of hanging it.
MAX_ITER = {("numba", "stochastic"): 60_000, ("numpy", "stochastic"): 10_000}
MAX_ITER_LBFGS = 20_000
SIGNAL_AFTER = 0.3  # seconds: several compiled calls of about 0.1 s each have run
# lbfgs: SciPy stops after about 1,000 iterations here, which took 0.39 s on this
# project's machine (numba engine): a signal at SIGNAL_AFTER could come after the end.
SIGNAL_AFTER_LBFGS = 0.1

CASES = [
    pytest.param(MLPClassifier, "sgd", id="classifier-sgd"),
    pytest.param(MLPRegressor, "adam", id="regressor-adam"),
    pytest.param(MLPClassifier, "lbfgs", id="classifier-lbfgs"),
]


def problem(estimator):
    X, y = make_classification(N_SAMPLES, 20, n_informative=8, n_classes=3, random_state=0)
    return X, (y if estimator is MLPClassifier else y.astype(float))


def model(estimator, solver, backend, max_iter):
    return estimator(
        hidden_layer_sizes=(32,),
        solver=solver,
        max_iter=max_iter,
        max_fun=10**9,
        tol=0.0,
        n_iter_no_change=10**9,
        random_state=0,
        backend=backend,
    )


def fit_interrupted(est, X, y, after=SIGNAL_AFTER):
    """Fit ``est`` and send SIGINT to the main thread after ``after`` seconds."""
    timer = threading.Timer(after, _thread.interrupt_main)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        timer.start()
        try:
            returned = est.fit(X, y)
        finally:
            timer.cancel()
    return returned, [str(w.message) for w in caught]


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize(("estimator", "solver"), CASES)
def test_sigint_keeps_the_model_of_the_last_completed_epoch(estimator, solver, backend):
    X, y = problem(estimator)
    stochastic = solver != "lbfgs"
    max_iter = MAX_ITER[backend, "stochastic"] if stochastic else MAX_ITER_LBFGS
    model(estimator, solver, backend, 2).fit(X[:100], y[:100])  # compile first
    est = model(estimator, solver, backend, max_iter)

    after = SIGNAL_AFTER if stochastic else SIGNAL_AFTER_LBFGS
    returned, messages = fit_interrupted(est, X, y, after)

    assert returned is est
    assert "Training interrupted by user." in messages
    assert 0 < est.n_iter_ < max_iter
    if stochastic:
        assert len(est.loss_curve_) == est.n_iter_
        assert est.t_ == est.n_iter_ * N_SAMPLES
        assert est.loss_ == est.loss_curve_[-1]
    # The same model, trained for exactly n_iter_ epochs without interruption.
    expected = model(estimator, solver, backend, est.n_iter_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the maximum number of iterations is reached
        expected.fit(X, y)
    got_params = est.coefs_ + est.intercepts_
    for got_W, expected_W in zip(got_params, expected.coefs_ + expected.intercepts_):
        assert_array_equal(got_W, expected_W)
    assert est.loss_ == expected.loss_
    if stochastic:
        assert est.loss_curve_ == expected.loss_curve_
    assert est.predict(X).shape == y.shape
    output = est.predict(X) if estimator is MLPRegressor else est.predict_proba(X)
    assert np.isfinite(output).all()


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_training_continues_after_an_interrupt(backend):
    X, y = problem(MLPClassifier)
    est = model(MLPClassifier, "adam", backend, MAX_ITER[backend, "stochastic"])
    model(MLPClassifier, "adam", backend, 2).fit(X[:100], y[:100])
    fit_interrupted(est, X, y)
    n_iter = est.n_iter_
    est.partial_fit(X, y)
    # As in scikit-learn, n_iter_ counts the epochs of the last call; the curve and the
    # samples seen carry on from the interrupted fit.
    assert est.n_iter_ == 1
    assert len(est.loss_curve_) == n_iter + 1
    assert est.t_ == (n_iter + 1) * N_SAMPLES
    assert np.isfinite(est.loss_curve_[-1])


def test_sigint_after_fit_is_an_ordinary_keyboard_interrupt():
    # fastnn's SIGINT handler lives only as long as a fit: afterwards Ctrl-C raises as usual.
    X, y = make_classification(100, 4, random_state=0)
    MLPClassifier((4,), max_iter=2).fit(X, y)
    with pytest.raises(KeyboardInterrupt):
        _thread.interrupt_main()
        threading.Event().wait(0.5)  # the interrupt lands during this wait
