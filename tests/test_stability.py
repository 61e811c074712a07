"""Numerical stability: divergence is caught and reported, extreme values stay finite.

1. Divergence. When the training loss becomes NaN or infinite, training stops, the
   weights of the last epoch with a finite loss are restored (bit for bit those of a fit
   that stops there), the user gets a ``fastnn.DivergenceWarning`` naming the loss and
   the epoch and suggesting a smaller learning rate, and predictions are finite. lbfgs
   keeps the weights with the lowest finite loss and suggests scaling the data.
2. Extremes. The logistic, softmax and log-loss are computed in forms that do not
   overflow: logits of any finite size give probabilities in [0, 1] (rows summing to
   one) and a finite loss, in both dtypes and both engines; models predict finite
   probabilities for inputs scaled by 1e30 or 1e-30.
"""

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from problems import load
from sklearn.datasets import make_classification

from fastnn import DivergenceWarning, MLPClassifier, MLPRegressor, kernels, reference
from fastnn import _codes as C

BACKENDS = ["numba", "numpy"]
ENGINES = {"numba": kernels, "numpy": reference}
DTYPES = [np.float64, np.float32]

# --- 1. Divergence -----------------------------------------------------------------------

# Step sizes at which the regression problem's loss overflows after at least one finite
# epoch, and after which the restored weights still predict finite values.
DIVERGING = {
    "sgd": {"learning_rate_init": 5.0, "batch_size": 32},
    "adam": {"learning_rate_init": 1e100},
    "rmsprop": {"learning_rate_init": 1e100},
    "adamw": {"learning_rate_init": 1e20},
}


def regressor(backend, solver, **params):
    defaults = {"hidden_layer_sizes": (8,), "max_iter": 100, "random_state": 0}
    return MLPRegressor(solver=solver, backend=backend, **{**defaults, **params})


def fit_recording(est, X, y):
    """Fit and return the warnings raised (overflow itself is silent by design)."""
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        est.fit(X, y)
    return caught


def divergence_message(caught):
    messages = [str(w.message) for w in caught if issubclass(w.category, DivergenceWarning)]
    assert len(messages) == 1, [str(w.message) for w in caught]
    return messages[0]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("solver", DIVERGING)
def test_divergence_restores_the_last_finite_epoch_and_warns(backend, solver):
    X, y = load("regression")
    est = regressor(backend, solver, **DIVERGING[solver])
    message = divergence_message(fit_recording(est, X, y))

    # What diverged, when, and what to do about it.
    match = re.search(r"the loss became (nan|inf) in epoch (\d+)\.", message)
    assert match, message
    assert int(match.group(2)) == est.n_iter_ + 1
    assert f"weights from the end of epoch {est.n_iter_} were restored" in message
    assert "Try a smaller learning_rate_init" in message

    # The fitted attributes describe the finite epochs only.
    assert est.n_iter_ >= 1
    assert len(est.loss_curve_) == est.n_iter_
    assert np.isfinite(est.loss_curve_).all()
    assert est.loss_ == est.loss_curve_[-1]
    assert est.t_ == est.n_iter_ * X.shape[0]

    # The weights are those of a fit that stops after the last finite epoch.
    expected = regressor(backend, solver, **{**DIVERGING[solver], "max_iter": est.n_iter_})
    fit_recording(expected, X, y)
    for got, want in zip(est.coefs_ + est.intercepts_, expected.coefs_ + expected.intercepts_):
        assert_array_equal(got, want)
    assert np.isfinite(est.predict(X)).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_divergence_with_early_stopping_keeps_the_best_validated_weights(backend):
    X, y = load("regression")
    est = regressor(backend, "sgd", **DIVERGING["sgd"], early_stopping=True)
    divergence_message(fit_recording(est, X, y))
    assert len(est.validation_scores_) == est.n_iter_
    assert all(np.isfinite(W).all() for W in est.coefs_ + est.intercepts_)
    assert np.isfinite(est.predict(X)).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_partial_fit_after_divergence_starts_a_fresh_optimizer(backend):
    X, y = load("regression")
    est = regressor(backend, "sgd", **DIVERGING["sgd"])
    fit_recording(est, X, y)
    est.set_params(learning_rate_init=1e-3)
    with np.errstate(all="raise"):  # no NaN left in the optimizer's moments
        est.partial_fit(X, y)
    assert np.isfinite(est.loss_curve_[-1])
    assert np.isfinite(est.predict(X)).all()


def lbfgs_problem():
    """50 samples, 3 standardised features, a standardised target."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=50)
    return (X - X.mean(0)) / X.std(0), (y - y.mean()) / y.std()


class NaNAfter:
    """An engine whose full-batch loss and gradient become NaN from the ``n``-th call on
    (the real engine's before): a divergence that comes after some finite iterations.
    Overflow does that on its own for inputs of about 1e75, but at an iteration that
    depends on the last bits of BLAS's products: with OpenBLAS's Haswell kernels it
    never came for the numpy engine on this project's AMD machine."""

    def __init__(self, engine, n):
        self.engine, self.n, self.calls = engine, n, 0

    def batch_loss_grad(self, X, Y, sw, network, theta, grad, scalars, work):
        self.calls += 1
        loss = self.engine.batch_loss_grad(X, Y, sw, network, theta, grad, scalars, work)
        if self.calls >= self.n:
            grad[:] = np.nan
            return np.nan
        return loss


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "scale",
    [None, 1e100],
    ids=["nan-after-90-iterations", "nan-at-the-first-step"],
)
def test_lbfgs_divergence_keeps_the_lowest_finite_loss(backend, scale, monkeypatch):
    # L-BFGS has no step size to blame: inputs of 1e100 make the squared error overflow
    # at once (SciPy then stops with "ABNORMAL"); a NaN after 90 evaluations is injected.
    from fastnn import lbfgs

    X, y = lbfgs_problem()
    if scale is None:
        scale = 1.0
        monkeypatch.setitem(lbfgs.BACKENDS, backend, NaNAfter(ENGINES[backend], 90))
    est = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0, backend=backend)
    message = divergence_message(fit_recording(est, X * scale, y))
    assert re.search(r"Training diverged: lbfgs ended with a loss of (nan|inf)", message)
    assert "Scale the input data" in message
    assert np.isfinite(est.loss_)
    assert all(np.isfinite(W).all() for W in est.coefs_ + est.intercepts_)
    assert np.isfinite(est.predict(X * scale)).all()


# Known defects, for the engine's owner (see the reasons).

DIVERGING_HARD = {  # the restored weights overflow in the forward pass
    "sgd": {"learning_rate_init": 1e50},
    "adam": {"learning_rate_init": 1e200},
    "rmsprop": {"learning_rate_init": 1e200},
    "adamw": {"learning_rate_init": 1e200},
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("solver", DIVERGING_HARD)
def test_restored_weights_predict_finite_values(backend, solver):
    X, y = load("regression")
    est = regressor(backend, solver, **DIVERGING_HARD[solver])
    message = divergence_message(fit_recording(est, X, y))
    assert all(np.isfinite(W).all() for W in est.coefs_ + est.intercepts_)
    with np.errstate(all="ignore"):
        assert np.isfinite(est.predict(X)).all()
    if "weights from the start of this fit were kept" in message:
        # A new fit's starting weights are drawn again from the generator's state,
        # not copied (fastnn/stochastic.py): they must be the very weights drawn first.
        assert_first_draw(est)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "random_state", [0, np.int64(0), np.random.RandomState(0)], ids=["int", "int64", "instance"]
)
def test_weights_drawn_again_from_a_seed_or_a_generator(backend, random_state):
    # An int random_state is kept as the seed to draw from again, a generator as its
    # state (fastnn/_base.py, _seed_or_state): both give back the first draw.
    if isinstance(random_state, np.random.RandomState):
        random_state.seed(0)  # the parameter is shared between the backends' cases
    X, y = load("regression")
    est = regressor(backend, "adam", random_state=random_state, **DIVERGING_HARD["adam"])
    message = divergence_message(fit_recording(est, X, y))
    assert "weights from the start of this fit were kept" in message
    assert_first_draw(est)


def assert_first_draw(est):
    """``est``'s weights are bit for bit those its fit drew first (random_state=0)."""
    from fastnn import engine

    initial = engine.new_parameters(est, est.coefs_[0].dtype, np.random.RandomState(0))
    for got, expected in zip(est.coefs_ + est.intercepts_, initial[0] + initial[1]):
        assert_array_equal(got, expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_divergence_in_the_first_epoch_keeps_the_first_draw(backend):
    # The first epoch diverges: the weights restored are the epoch's starting ones,
    # bit for bit the initial draw (test_restored_weights_predict_finite_values checks
    # the other way back to them, drawing them again).
    X, y = load("regression")
    est = regressor(backend, "sgd", learning_rate_init=1e300)
    divergence_message(fit_recording(est, X, y * 1e300))
    assert est.n_iter_ == 0
    assert_first_draw(est)


@pytest.mark.parametrize("backend", BACKENDS)
def test_restored_weights_are_finite(backend):
    X, y = load("regression")
    est = regressor(backend, "sgd", learning_rate_init=1e300)
    divergence_message(fit_recording(est, X, y * 1e10))
    assert all(np.isfinite(W).all() for W in est.coefs_ + est.intercepts_)


@pytest.mark.parametrize("backend", BACKENDS)
def test_divergence_in_the_first_epoch_leaves_consistent_attributes(backend):
    X, y = load("regression")
    est = regressor(backend, "sgd", learning_rate_init=1e10, batch_size=32)
    divergence_message(fit_recording(est, X, y))
    assert est.n_iter_ == 0
    assert est.loss_curve_ == []
    assert est.t_ == 0
    assert not np.isfinite(est.loss_)  # the loss that diverged
    assert np.isfinite(est.predict(X)).all()  # the initial weights


@pytest.mark.parametrize("backend", BACKENDS)
def test_lbfgs_divergence_at_the_start_says_the_initial_weights_were_kept(backend):
    X, y = lbfgs_problem()
    est = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0, backend=backend)
    message = divergence_message(fit_recording(est, X * 1e200, y))
    assert "(nan)" not in message
    assert np.isfinite(est.predict(X * 1e200)).all()


# --- 2. Extremes -------------------------------------------------------------------------

BIG = {
    np.float64: [100.0, 1e4, 1e300, np.finfo(np.float64).max],
    np.float32: [100.0, 1e4, 1e30, np.finfo(np.float32).max],
}
SUM_RTOL = {np.float64: 1e-12, np.float32: 1e-6}
EPS = {dtype: float(np.finfo(dtype).eps) for dtype in DTYPES}


def extreme_logits(value, dtype):
    """Rows of logits mixing +value, -value and 0: one large, all small, ties at the top."""
    v = value
    rows = [[v, -v, 0.0], [-v, -v, -v], [v, v, -v], [0.0, 1.0, -v], [v, v, v], [-v, 0.0, v]]
    return np.array(rows, dtype=dtype)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("loss", [C.BINARY_LOG_LOSS, C.LOG_LOSS], ids=["logistic", "softmax"])
def test_output_activation_and_log_loss_at_extreme_logits(engine, dtype, loss):
    for value in BIG[dtype]:
        Z = extreme_logits(value, dtype)
        P = Z.copy()
        with np.errstate(over="ignore", under="ignore"):  # exp(-huge) underflows to 0: fine
            ENGINES[engine].output_activate(P, loss)
        assert np.isfinite(P).all(), (value, P)
        assert ((P >= 0) & (P <= 1)).all(), (value, P)
        if loss == C.LOG_LOSS:
            assert_allclose(P.sum(axis=1), 1.0, rtol=SUM_RTOL[dtype])
        # Confidently wrong and confidently right targets: the loss is finite, >= 0, and
        # at most -log(eps) per output (the probabilities are clipped to [eps, 1-eps]).
        for Y in (np.eye(3, dtype=dtype)[[1, 0, 2, 0, 1, 2]], 1.0 - (P > 0.5)):
            Y = np.ascontiguousarray(Y, dtype=dtype)
            if loss == C.LOG_LOSS:
                Y = np.eye(3, dtype=dtype)[np.argmin(P, axis=1)]
            sw = np.ones(len(Y), dtype=dtype)
            value_of_loss = ENGINES[engine].output_loss(P, Y, sw, loss)
            assert np.isfinite(value_of_loss)
            assert 0 <= value_of_loss <= 3 * -np.log(EPS[dtype]) * 1.001


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("code", [C.LOGISTIC, C.TANH], ids=["logistic", "tanh"])
def test_hidden_activations_at_extreme_inputs(engine, dtype, code):
    Z = np.array([[-v, v] for v in [0.0, *BIG[dtype]]], dtype=dtype)
    A = Z.copy()
    with np.errstate(over="ignore", under="ignore"):
        ENGINES[engine].activate(A, code)
    low = 0.0 if code == C.LOGISTIC else -1.0
    assert np.isfinite(A).all()
    assert ((A >= low) & (A <= 1)).all()
    delta = np.ones_like(A)
    ENGINES[engine].activation_derivative(A, delta, code)
    assert np.isfinite(delta).all()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("loss", [C.BINARY_LOG_LOSS, C.LOG_LOSS], ids=["logistic", "softmax"])
@pytest.mark.parametrize("value", [30.0, 88.0, 89.0, 100.0, 1e4])
def test_float32_does_not_overflow_where_float64_does_not(engine, loss, value):
    # exp(89) overflows float32 (max 3.4e38); a naive 1 / (1 + exp(-z)) or an unshifted
    # softmax would give inf / inf = NaN there, while float64 is fine.
    Z64 = extreme_logits(value, np.float64)
    P64, P32 = Z64.copy(), Z64.astype(np.float32)
    with np.errstate(over="ignore", under="ignore"):
        ENGINES[engine].output_activate(P64, loss)
        ENGINES[engine].output_activate(P32, loss)
    assert np.isfinite(P64).all()
    assert np.isfinite(P32).all()
    assert_allclose(P32, P64, atol=1e-6)


def classification(n_classes):
    X, y = make_classification(200, 5, n_informative=3, n_classes=n_classes, random_state=0)
    return (X - X.mean(0)) / X.std(0), y


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_classes", [2, 3], ids=["binary", "multiclass"])
@pytest.mark.parametrize("scale", [1e30, 1e-30])
def test_predict_proba_of_scaled_inputs(backend, dtype, n_classes, scale):
    X, y = classification(n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier((16,), max_iter=50, random_state=0, backend=backend, dtype=dtype)
        model.fit(X, y)
    with np.errstate(over="ignore", under="ignore"):
        proba = model.predict_proba(X * scale)
    assert np.isfinite(proba).all()
    assert ((proba >= 0) & (proba <= 1)).all()
    assert_allclose(proba.sum(axis=1), 1.0, rtol=SUM_RTOL[np.dtype(dtype).type])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "solver",
    [
        "sgd",
        "adam",
        "rmsprop",
        "adamw",
        "lbfgs",
    ],
)
def test_fit_on_inputs_of_1e30(backend, solver):
    X, y = classification(3)
    model = MLPClassifier((16,), solver=solver, max_iter=30, random_state=0, backend=backend)
    fit_recording(model, X * 1e30, y)
    with np.errstate(all="ignore"):  # NaN would fail the assertions below
        proba = model.predict_proba(X * 1e30)
    assert np.isfinite(proba).all()
    assert ((proba >= 0) & (proba <= 1)).all()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop", "adamw", "lbfgs"])
def test_fit_on_inputs_of_1e_minus_30(backend, solver):
    X, y = classification(3)
    model = MLPClassifier((16,), solver=solver, max_iter=30, random_state=0, backend=backend)
    caught = fit_recording(model, X * 1e-30, y)
    assert not any(issubclass(w.category, DivergenceWarning) for w in caught)
    proba = model.predict_proba(X * 1e-30)
    assert np.isfinite(proba).all()
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
