"""The plain-NumPy baseline (``plain_numpy.py``) does the same math as fastnn.

Started from the same seed, it draws the same initial weights and the same shuffled
mini-batches, so its loss curve must be fastnn's numpy engine's, and scikit-learn's, to
rounding: in float64 to 1e-12 (what is measured is ~1e-16; its products and sums are
ordered a little differently). That is what makes it a fair baseline, not a different
and cheaper algorithm.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from plain_numpy import PlainNumpyMLP
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from workloads import WORKLOADS, load, params

from fastnn import MLPClassifier

# Enough epochs for rounding differences to grow, if they were going to.
EPOCHS = {"xor": 50}
# wide on the first rows only: the numpy engine takes seconds per full epoch
ROWS = {"wide": 1000}


def _fit_both(workload, dtype, **extra):
    X, y = load(WORKLOADS[workload][0])
    rows = ROWS.get(workload)
    if rows is not None:
        X, y = X[:rows], y[:rows]
    p = {**params(workload, EPOCHS.get(workload, 3)), **extra}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        engine = MLPClassifier(**p, backend="numpy", dtype=dtype).fit(X, y)
    plain = PlainNumpyMLP(**p, dtype=dtype).fit(X, y)
    return plain, engine, X, y, p


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_same_math_as_the_numpy_engine_float64(workload):
    plain, engine, *_ = _fit_both(workload, "float64")
    assert plain.n_iter_ == engine.n_iter_ == len(plain.loss_curve_)
    assert_allclose(plain.loss_curve_, engine.loss_curve_, rtol=0, atol=1e-12)
    for ours, theirs in zip(
        [*plain.coefs_, *plain.intercepts_], [*engine.coefs_, *engine.intercepts_]
    ):
        assert ours.dtype == theirs.dtype == np.float64
        assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("workload", ["xor", "moons", "digits"])
def test_same_math_as_the_numpy_engine_float32(workload):
    """float32 rounds differently in products and sums (BLAS, loss accumulated in
    float64 here); the curves agree to float32's precision."""
    plain, engine, *_ = _fit_both(workload, "float32")
    assert plain.coefs_[0].dtype == np.float32
    assert_allclose(plain.loss_curve_, engine.loss_curve_, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("activation", ["tanh", "logistic", "identity"])
def test_other_hidden_activations(activation):
    plain, engine, *_ = _fit_both("circles", "float64", activation=activation)
    assert_allclose(plain.loss_curve_, engine.loss_curve_, rtol=0, atol=1e-12)


@pytest.mark.parametrize("workload", ["xor", "moons", "sklearn-default"])
def test_same_loss_curve_as_scikit_learn(workload):
    """The specification itself: scikit-learn's MLPClassifier with the same seed."""
    plain, _, X, y, p = _fit_both(workload, "float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SklearnMLPClassifier(**p).fit(X, y)
    assert_allclose(plain.loss_curve_, sk.loss_curve_, rtol=0, atol=1e-12)
    for ours, theirs in zip(plain.coefs_, sk.coefs_):
        assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
