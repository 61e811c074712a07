"""fastnn against scikit-learn: the same parameters and seed give the same fit.

With ``dtype="float64"`` fastnn draws the same initial weights, the same shuffles and
the same early-stopping split as scikit-learn, and does the same arithmetic, so every
fitted attribute agrees to rounding. Each test fits ``got`` (fastnn, one engine) and
``expected`` (scikit-learn) and compares all public fitted attributes and predictions.

Stochastic fits run at least :data:`MIN_EPOCHS` epochs (``tol=0`` and a large
``n_iter_no_change`` keep them going to ``max_iter``), so that a wrong step would
have time to show in ``loss_curve_``. L-BFGS runs 25 iterations: it amplifies the
last-bit differences of the numba engine's summation order by about ten every few
iterations (after 80 they reach 1e-2), and after 25 they are still well below RTOL.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from problems import estimators, load
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import unique_labels

from fastnn import DivergenceWarning

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Relative tolerance of every float comparison with scikit-learn (float64 throughout).
RTOL = 1e-6
# Absolute floor for weights and probabilities, for entries that are zero up to rounding.
ATOL = 1e-12

MIN_EPOCHS = 20

# Two hidden layers, so that a delta is carried through a hidden-to-hidden layer.
BASE = {
    "hidden_layer_sizes": (6, 4),
    "random_state": 0,
    "max_iter": 25,
    "tol": 0.0,
    "n_iter_no_change": 1000,
    "learning_rate_init": 0.01,  # stable for sgd and adam on every dataset of problems.py
}


def fit_pair(target, backend, sample_weight=None, **params):
    """Fit fastnn (``got``) and scikit-learn (``expected``) on ``target``'s data."""
    X, y = load(target)
    params = {**BASE, **params}
    got, expected = estimators(target, backend=backend, dtype="float64", **params)
    got.fit(X, y, sample_weight=sample_weight)
    expected.fit(X, y, sample_weight=sample_weight)
    return got, expected, X


# What fastnn fits beyond scikit-learn (scikit-learn declined to add it, #18507).
FASTNN_ONLY = {"validation_loss_curve_"}


def fitted_attributes(est):
    """Names of the public fitted attributes (``coefs_``, ``n_iter_``, ...) that
    scikit-learn's MLPs also have."""
    names = (k for k in vars(est) if k.endswith("_") and not k.startswith("_"))
    return sorted(set(names) - FASTNN_ONLY)


def assert_same_attribute(name, got, expected):
    if expected is None:
        assert got is None, name
    elif name in ("coefs_", "intercepts_"):
        assert len(got) == len(expected), name
        for got_layer, expected_layer in zip(got, expected):
            assert got_layer.dtype == expected_layer.dtype, name
            assert_allclose(got_layer, expected_layer, rtol=RTOL, atol=ATOL, err_msg=name)
    elif name == "classes_":
        assert_array_equal(got, expected, err_msg=name)
    elif isinstance(expected, (str, int, np.integer)):
        assert got == expected, name
    else:  # floats and lists of floats: loss_, best_loss_, loss_curve_, validation scores
        assert_allclose(got, expected, rtol=RTOL, err_msg=name)


def assert_same_fit(got, expected, X):
    """Every public fitted attribute, and the predictions on ``X``, agree."""
    if hasattr(expected, "loss_curve_"):
        assert len(expected.loss_curve_) >= MIN_EPOCHS
    assert fitted_attributes(got) == fitted_attributes(expected)
    for name in fitted_attributes(expected):
        assert_same_attribute(name, getattr(got, name), getattr(expected, name))
    if is_classifier(expected):
        assert_array_equal(got.predict(X), expected.predict(X))
        got_proba, expected_proba = got.predict_proba(X), expected.predict_proba(X)
        assert_allclose(got_proba, expected_proba, rtol=RTOL, atol=ATOL)
    else:
        assert_allclose(got.predict(X), expected.predict(X), rtol=RTOL, atol=ATOL)


# --- solvers and schedules --------------------------------------------------------

SCHEDULES = {
    "constant": {},
    "invscaling": {"power_t": 0.5},
    # tol=1 makes every epoch count as no improvement, so every third epoch divides the
    # rate by 5: from 0.1 down past 1e-6 in 8 divisions, then the fit stops (epoch 28).
    "adaptive": {"tol": 1.0, "n_iter_no_change": 2, "max_iter": 50},
}


@pytest.mark.parametrize("nesterovs_momentum", [True, False])
@pytest.mark.parametrize("learning_rate", list(SCHEDULES))
def test_sgd_schedules(learning_rate, nesterovs_momentum, backend):
    params = {
        "solver": "sgd",
        "learning_rate": learning_rate,
        "learning_rate_init": 0.1,
        "nesterovs_momentum": nesterovs_momentum,
        **SCHEDULES[learning_rate],
    }
    got, expected, X = fit_pair("binary", backend, **params)
    assert_same_fit(got, expected, X)


def test_adaptive_schedule_divides_and_stops(backend):
    """The adaptive case above really divides: it stops before max_iter, which it
    only does once the rate has been divided down to 1e-6."""
    params = {"solver": "sgd", "learning_rate": "adaptive", "learning_rate_init": 0.1}
    got, expected, _ = fit_pair("binary", backend, **params, **SCHEDULES["adaptive"])
    assert got.n_iter_ == expected.n_iter_
    assert MIN_EPOCHS <= expected.n_iter_ < SCHEDULES["adaptive"]["max_iter"]
    assert got._optimizer.learning_rate == pytest.approx(expected._optimizer.learning_rate)
    assert expected._optimizer.learning_rate <= 1e-6


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel", "regression", "poisson"])
def test_targets(target, solver, backend):
    got, expected, X = fit_pair(target, backend, solver=solver)
    assert_same_fit(got, expected, X)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_activations(activation, solver, backend):
    got, expected, X = fit_pair("multiclass", backend, solver=solver, activation=activation)
    assert_same_fit(got, expected, X)


def test_lbfgs_loss_and_iterations(backend):
    got, expected, _ = fit_pair("binary", backend, solver="lbfgs")
    assert got.n_iter_ == expected.n_iter_
    assert_allclose(got.loss_, expected.loss_, rtol=RTOL)


# --- early stopping ---------------------------------------------------------------


@pytest.mark.parametrize("early_stopping", [True, False])
@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel", "regression", "poisson"])
def test_early_stopping(target, early_stopping, backend):
    """Same split, same validation scores, and the best weights restored."""
    got, expected, X = fit_pair(target, backend, early_stopping=early_stopping)
    assert_same_fit(got, expected, X)


@pytest.mark.parametrize("early_stopping", [True, False])
def test_stopping_rule(early_stopping, backend):
    """With the default ``tol`` both stop at the same epoch, before ``max_iter``."""
    params = {
        "early_stopping": early_stopping,
        "learning_rate_init": 0.03,
        "tol": 1e-4,
        "n_iter_no_change": 3,
        "max_iter": 200,
    }
    got, expected, X = fit_pair("regression", backend, **params)
    assert_same_fit(got, expected, X)
    assert expected.n_iter_ < params["max_iter"]


# --- data handling ----------------------------------------------------------------


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("target", ["multiclass", "regression"])
def test_sample_weight(target, solver, backend):
    n_samples = load(target)[0].shape[0]
    sample_weight = np.random.RandomState(1).uniform(0.1, 3.0, n_samples)
    got, expected, X = fit_pair(target, backend, sample_weight=sample_weight, solver=solver)
    assert_same_fit(got, expected, X)


def test_sample_weight_with_early_stopping(backend):
    sample_weight = np.random.RandomState(1).uniform(0.1, 3.0, 200)
    got, expected, X = fit_pair("binary", backend, sample_weight=sample_weight, early_stopping=True)
    assert_same_fit(got, expected, X)


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("batch_size", [7, 64])
def test_mini_batches(batch_size, shuffle, backend):
    """200 samples do not divide into batches of 7 or 64: the last batch is short."""
    params = {"solver": "sgd", "batch_size": batch_size, "shuffle": shuffle}
    got, expected, X = fit_pair("binary", backend, **params)
    assert_same_fit(got, expected, X)


# --- continued training -----------------------------------------------------------


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("target", ["multiclass", "multilabel", "regression"])
def test_partial_fit(target, solver, backend):
    """Twenty calls: five passes over four chunks, the optimizer state carried along."""
    X, y = load(target)
    params = {
        **BASE,
        "solver": solver,
        "learning_rate": "invscaling",
        "learning_rate_init": 0.05,
    }
    got, expected = estimators(target, backend=backend, dtype="float64", **params)
    classes = {"classes": unique_labels(y)} if is_classifier(expected) else {}
    chunks = np.array_split(np.arange(X.shape[0]), 4)
    for rows in chunks * 5:
        got.partial_fit(X[rows], y[rows], **classes)
        expected.partial_fit(X[rows], y[rows], **classes)
    assert_same_fit(got, expected, X)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_warm_start(solver, backend):
    """A second ``fit`` continues from the first one's weights (and loss curve)."""
    X, y = load("multiclass")
    params = {
        **BASE,
        "solver": solver,
        "warm_start": True,
        "max_iter": 12,
    }
    got, expected = estimators("multiclass", backend=backend, dtype="float64", **params)
    for est in (got, expected):
        est.fit(X, y)
        est.set_params(max_iter=10)
        est.fit(X, y)
    assert_same_fit(got, expected, X)


def test_random_state_instance_stream(backend):
    """A ``RandomState`` passed in is one stream across fits: the second and third
    fits draw their weights and shuffles from where the previous fit left it, and it
    ends in scikit-learn's state, the Gaussian it had cached included."""
    X, y = load("binary")
    params = {**BASE, "solver": "sgd"}
    got, expected = estimators("binary", backend=backend, dtype="float64", **params)
    generators = np.random.RandomState(0), np.random.RandomState(0)
    for generator in generators:
        generator.standard_normal()  # draws two, caches the second
    got.set_params(random_state=generators[0])
    expected.set_params(random_state=generators[1])
    for _ in range(3):
        got.fit(X, y)
        expected.fit(X, y)
    assert_same_fit(got, expected, X)
    (name, key, pos, has_gauss, gauss), want = (g.get_state() for g in generators)
    assert has_gauss == 1
    assert (name, pos, has_gauss, gauss) == (want[0], want[2], want[3], want[4])
    assert_array_equal(key, want[1])


# --- warnings ---------------------------------------------------------------------


def convergence_warnings(est, X, y):
    """First lines of the ConvergenceWarnings that fitting ``est`` raises."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y)
    return [
        str(w.message).splitlines()[0] for w in caught if issubclass(w.category, ConvergenceWarning)
    ]


@pytest.mark.parametrize(("max_iter", "warns"), [(5, True), (500, False)])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_convergence_warning(solver, max_iter, warns, backend):
    """fastnn warns exactly when scikit-learn does, with the same message."""
    X, y = load("regression")
    params = {
        "solver": solver,
        "hidden_layer_sizes": (6, 4),
        "random_state": 0,
        "learning_rate_init": 0.03,
        "max_iter": max_iter,
    }
    got_est, expected_est = estimators("regression", backend=backend, dtype="float64", **params)
    got = convergence_warnings(got_est, X, y)
    expected = convergence_warnings(expected_est, X, y)
    assert got == expected
    assert bool(expected) == warns


def test_divergence_keeps_the_last_finite_epoch(backend):
    """A step size far too large: scikit-learn's loss overflows to infinity after 144
    epochs and it carries on with non-finite weights. fastnn follows scikit-learn's curve
    exactly up to that epoch, then stops, keeps the previous epoch's weights, and warns."""
    X, y = load("regression")
    params = {**BASE, "solver": "sgd", "learning_rate_init": 5.0, "max_iter": 200}
    got_est, expected_est = estimators("regression", backend=backend, dtype="float64", **params)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected_est.fit(X, y)
    with pytest.warns(DivergenceWarning, match=r"loss became inf in epoch (\d+).*smaller"):
        got_est.fit(X, y)
    expected = np.array(expected_est.loss_curve_)
    n_finite = int(np.argmax(~np.isfinite(expected)))
    assert n_finite > 20
    assert got_est.n_iter_ == n_finite
    assert_allclose(got_est.loss_curve_, expected[:n_finite], rtol=RTOL)
    assert all(np.isfinite(W).all() for W in got_est.coefs_ + got_est.intercepts_)
    assert np.isfinite(got_est.predict(X)).all()


# --- progress output --------------------------------------------------------------

ADAPTIVE_VERBOSE = {
    "solver": "sgd",
    "learning_rate": "adaptive",
    "learning_rate_init": 0.1,
    **SCHEDULES["adaptive"],
}


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"solver": "adam"}, id="adam"),
        pytest.param({"solver": "adam", "early_stopping": True}, id="adam-early-stopping"),
        pytest.param(ADAPTIVE_VERBOSE, id="sgd-adaptive"),
        pytest.param(
            {**ADAPTIVE_VERBOSE, "early_stopping": True}, id="sgd-adaptive-early-stopping"
        ),
    ],
)
def test_verbose_output(params, backend, capsys):
    """``verbose=True`` prints the same progress lines as scikit-learn."""
    X, y = load("binary")
    params = {**BASE, "learning_rate_init": 0.03, "tol": 1e-4, "n_iter_no_change": 3, **params}
    got_est, expected_est = estimators("binary", backend=backend, dtype="float64", **params)
    got_est.set_params(verbose=True)
    expected_est.set_params(verbose=True)
    got_est.fit(X, y)
    got = capsys.readouterr().out
    expected_est.fit(X, y)
    expected = capsys.readouterr().out
    assert got == expected
