"""The numba engine against the NumPy reference, and the dtype the model computes in.

Both engines get exactly the same arrays (initial weights, shuffled rows, batches), so
after training the same model their weights differ only by rounding.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from problems import BACKENDS, TARGETS, estimators, load
from sklearn.base import is_classifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# float64: no fastmath, so both engines follow IEEE arithmetic; only the summation
# order of BLAS against the kernels' loops differs, by a few ulps per step.
#
# float32: rounding differs between BLAS and the numba loops, and the numba kernels
# accumulate losses and sums in float64 where NumPy sums in float32. Each step
# differs by ~1e-7 relative, which over 20 epochs grows to a few 1e-7 absolute
# (up to 3e-4 relative on weights near zero, hence the atol).
#
# L-BFGS amplifies such differences: its curvature pairs are differences of
# gradients, and the gap between the engines grows about tenfold every few
# iterations. In float64 after 15 iterations it is still ~1e-11. In float32 the
# trajectories separate after a few iterations (by ~1e-1 after 20 on some
# problems), so float32 L-BFGS is compared after 5 iterations with a looser
# tolerance (the worst case seen is 6e-4 relative).
TOLERANCE = {
    ("float64", "stochastic"): {"rtol": 1e-9, "atol": 0.0},
    ("float64", "lbfgs"): {"rtol": 1e-9, "atol": 0.0},
    ("float32", "stochastic"): {"rtol": 1e-4, "atol": 1e-5},
    ("float32", "lbfgs"): {"rtol": 1e-2, "atol": 1e-3},
}

# Epochs (iterations for L-BFGS) of training before the weights are compared.
MAX_ITER = {
    ("float64", "stochastic"): 20,
    ("float64", "lbfgs"): 15,
    ("float32", "stochastic"): 20,
    ("float32", "lbfgs"): 5,
}


def kind(solver):
    return "lbfgs" if solver == "lbfgs" else "stochastic"


def fit_both_engines(target, dtype, solver, **params):
    """The same model fitted by each engine: ``{backend: estimator}``."""
    X, y = load(target)
    params = {
        "solver": solver,
        "hidden_layer_sizes": (6, 4),
        "random_state": 0,
        "max_iter": MAX_ITER[dtype, kind(solver)],
        "tol": 0.0,
        "n_iter_no_change": 1000,
        "learning_rate_init": 0.01,
        "batch_size": 32,  # several steps per epoch, and a short last batch
        "dtype": dtype,
        **params,
    }
    fitted = {}
    for backend in BACKENDS:
        est, _ = estimators(target, backend=backend, **params)
        fitted[backend] = est.fit(X, y)
    return fitted


ACTIVATIONS = ["identity", "logistic", "tanh", "relu", "leaky_relu"]
SOLVERS = ["sgd", "adam", "rmsprop", "adamw", "lbfgs"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_engines_agree(dtype, solver, activation, target):
    fitted = fit_both_engines(target, dtype, solver, activation=activation)
    got, expected = fitted["numba"], fitted["numpy"]
    tolerance = TOLERANCE[dtype, kind(solver)]
    for name in ("coefs_", "intercepts_"):
        for got_layer, expected_layer in zip(getattr(got, name), getattr(expected, name)):
            assert got_layer.dtype == np.dtype(dtype)
            assert_allclose(got_layer, expected_layer, **tolerance, err_msg=name)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("solver", ["adam", "rmsprop", "adamw"])
def test_engines_agree_on_loss_curve(dtype, solver):
    fitted = fit_both_engines("multiclass", dtype, solver)
    got, expected = fitted["numba"].loss_curve_, fitted["numpy"].loss_curve_
    assert_allclose(got, expected, rtol=TOLERANCE[dtype, "stochastic"]["rtol"])


# --- dtype handling ---------------------------------------------------------------

DTYPE_CASES = [
    # (dtype parameter, input dtype, dtype the model computes in)
    (None, np.float32, np.float32),
    (None, np.float64, np.float64),
    (None, np.int64, np.float64),
    ("float32", np.float32, np.float32),
    ("float32", np.float64, np.float32),
    ("float32", np.int64, np.float32),
    ("float64", np.float32, np.float64),
    ("float64", np.float64, np.float64),
    ("float64", np.int64, np.float64),
]


@pytest.mark.parametrize("target", ["binary", "regression"])
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(("dtype", "input_dtype", "expected"), DTYPE_CASES)
def test_dtype(dtype, input_dtype, expected, solver, target, backend):
    """Weights, biases and outputs all have the computing dtype."""
    X, y = load(target)
    X = np.round(3 * X).astype(input_dtype)
    est, _ = estimators(
        target, backend=backend, dtype=dtype, solver=solver, hidden_layer_sizes=(3,), max_iter=3
    )
    est.fit(X, y)
    output = est.predict_proba(X) if is_classifier(est) else est.predict(X)
    got = {a.dtype for a in [*est.coefs_, *est.intercepts_, output]}
    assert got == {np.dtype(expected)}
