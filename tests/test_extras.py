"""What fastnn fits beyond scikit-learn's MLPs (features scikit-learn declined to add).

dropout, class_weight, validation_loss_curve_, callbacks, the rmsprop and adamw solvers,
the cosine and step schedules, the huber and absolute_error losses and the leaky_relu
activation, each at the estimator level. Every feature is held to three things: both
engines fit the same model; where it reduces to something simpler it gives exactly that
(dropout=0, adamw with alpha=0, class_weight='balanced' as sample weights); and it does
what it is for (dropout changes the fit, balanced weights raise the minority class's
recall, the absolute error is not pulled by outliers).
"""

import functools
import hashlib
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from problems import BACKENDS, load
from scipy.special import expit
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import recall_score
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_sample_weight
from test_engines import TOLERANCE

from fastnn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Engine parity of stochastic solvers, with test_engines.py's tolerances (reasons there).
PARITY = {dtype: TOLERANCE[dtype, "stochastic"] for dtype in ("float64", "float32")}
DTYPES = list(PARITY)

# A small network trained for a fixed number of epochs (no early stop on the loss), with
# several mini-batches per epoch and a short last one.
SMALL = {
    "hidden_layer_sizes": (8, 6),
    "random_state": 0,
    "max_iter": 15,
    "batch_size": 32,
    "learning_rate_init": 0.01,
    "tol": 0.0,
    "n_iter_no_change": 1000,
}


def model(target, **params):
    """A fastnn estimator for a target type of problems.py (regressor or classifier)."""
    params = {**SMALL, **params}
    if target in ("regression", "poisson"):
        return MLPRegressor(**params)
    return MLPClassifier(**params)


def fit(target, **params):
    X, y = load(target)
    return model(target, **params).fit(X, y)


def parameters(est):
    """All weights and biases of a fitted model in one flat vector."""
    return np.concatenate([p.ravel() for p in [*est.coefs_, *est.intercepts_]])


def assert_same_fit(got, expected):
    """Bit-for-bit the same weights, biases and loss curve."""
    assert_array_equal(parameters(got), parameters(expected))
    assert got.loss_curve_ == expected.loss_curve_


# --- Both engines, every feature -------------------------------------------------------

PARITY_CASES = {
    "dropout": ("binary", {"dropout": 0.3}),
    "dropout_per_layer": ("multiclass", {"dropout": (0.2, 0.5), "solver": "sgd"}),
    "dropout_regressor": ("regression", {"dropout": 0.2, "solver": "rmsprop"}),
    "class_weight": ("binary", {"class_weight": {0: 1.0, 1: 3.0}}),
    "rmsprop": ("multiclass", {"solver": "rmsprop"}),
    "adamw": ("multiclass", {"solver": "adamw", "alpha": 0.1}),
    "cosine_sgd": ("binary", {"solver": "sgd", "learning_rate": "cosine"}),
    "step_adam": ("binary", {"learning_rate": "step"}),
    "huber": ("regression", {"loss": "huber"}),
    "absolute_error": ("regression", {"loss": "absolute_error"}),
    "leaky_relu": ("binary", {"activation": "leaky_relu"}),
    "early_stopping_dropout": ("multiclass", {"early_stopping": True, "dropout": 0.2}),
}


@pytest.mark.parametrize("case", PARITY_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_engines_agree(dtype, case):
    target, params = PARITY_CASES[case]
    got, expected = (fit(target, backend=b, dtype=dtype, **params) for b in BACKENDS)
    assert_allclose(parameters(got), parameters(expected), **PARITY[dtype])
    assert_allclose(got.loss_curve_, expected.loss_curve_, **PARITY[dtype])
    if params.get("early_stopping"):
        assert_allclose(
            got.validation_loss_curve_, expected.validation_loss_curve_, **PARITY[dtype]
        )


# --- dropout --------------------------------------------------------------------------


def dropout_digest():
    """A hash of the bytes of a dropout model's weights (run here and in subprocesses)."""
    X, y = load("binary")
    est = model("binary", dropout=0.3, hidden_layer_sizes=(16, 8), max_iter=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return hashlib.sha256(
        b"".join(p.tobytes() for p in [*est.coefs_, *est.intercepts_])
    ).hexdigest()


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two CPUs for two Numba threads")
def test_dropout_does_not_depend_on_numba_threads():
    # The masks are a hash of counters, not draws from a per-thread generator: a fresh
    # process with one Numba thread, one with two, and this one fit the same bytes.
    tests = os.path.dirname(os.path.abspath(__file__))
    code = f"import sys; sys.path.insert(0, {tests!r}); import test_extras as t; "
    code += "print(t.dropout_digest())"
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env={**os.environ, "NUMBA_NUM_THREADS": threads},
            stdout=subprocess.PIPE,
            text=True,
        )
        for threads in ("1", "2")
    ]
    one_thread, two_threads = (run.communicate(timeout=120)[0].strip() for run in runs)
    assert [run.returncode for run in runs] == [0, 0]
    assert one_thread == two_threads == dropout_digest()


@pytest.mark.parametrize("zero", [0.0, 0, [0.0, 0.0]], ids=["float", "int", "per_layer"])
def test_zero_dropout_is_no_dropout(zero, backend):
    # Exactly: no mask is drawn, and the random stream is not touched.
    assert_same_fit(fit("binary", dropout=zero, backend=backend), fit("binary", backend=backend))


def test_one_rate_is_that_rate_for_every_hidden_layer(backend):
    got = fit("binary", dropout=0.3, backend=backend)
    expected = fit("binary", dropout=[0.3, 0.3], backend=backend)
    assert_same_fit(got, expected)


def test_dropout_changes_the_fit(backend):
    with_dropout = fit("binary", dropout=0.3, backend=backend)
    without = fit("binary", backend=backend)
    assert not np.allclose(parameters(with_dropout), parameters(without))
    assert with_dropout.loss_curve_[0] != without.loss_curve_[0]


def test_no_dropout_at_predict(backend):
    # Inverted dropout scales at training time, so prediction is the plain forward pass:
    # deterministic, and equal to the network computed here by hand.
    est = fit("binary", dropout=0.5, backend=backend, activation="tanh")
    X, _ = load("binary")
    (W1, W2, W3), (b1, b2, b3) = est.coefs_, est.intercepts_
    expected = expit(np.tanh(np.tanh(X @ W1 + b1) @ W2 + b2) @ W3 + b3).ravel()
    got = est.predict_proba(X)[:, 1]
    assert_array_equal(got, est.predict_proba(X)[:, 1])
    assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize(
    "dropout",
    [1.0, -0.1, np.nan, True, [0.1], [0.1, 0.2, 0.3], [0.1, 1.0]],
    ids=["one", "negative", "nan", "bool", "too_few", "too_many", "one_in_list"],
)
def test_bad_dropout_is_named(dropout):
    X, y = load("binary")
    with pytest.raises(ValueError, match="'dropout' parameter"):
        model("binary", dropout=dropout).fit(X, y)


def test_dropout_needs_a_stochastic_solver():
    X, y = load("binary")
    with pytest.raises(ValueError, match="dropout needs a stochastic solver"):
        model("binary", dropout=0.2, solver="lbfgs").fit(X, y)


# --- class_weight ---------------------------------------------------------------------


@functools.cache
def _imbalanced():
    """1500 samples, 4 features, 5% in class 1, the classes overlapping."""
    return make_classification(
        n_samples=1500,
        n_features=4,
        n_informative=2,
        n_redundant=0,
        weights=[0.95, 0.05],
        class_sep=0.8,
        flip_y=0.0,
        random_state=0,
    )


def imbalanced():
    X, y = _imbalanced()
    return X.copy(), y.copy()


def test_balanced_is_balanced_sample_weight(backend):
    X, y = imbalanced()
    got = model("binary", class_weight="balanced", backend=backend).fit(X, y)
    expected = model("binary", backend=backend).fit(
        X, y, sample_weight=compute_sample_weight("balanced", y)
    )
    assert_same_fit(got, expected)


def test_class_weight_multiplies_sample_weight(backend):
    X, y = imbalanced()
    sample_weight = np.random.default_rng(0).uniform(0.5, 2.0, size=y.shape[0])
    got = model("binary", class_weight="balanced", backend=backend)
    got.fit(X, y, sample_weight=sample_weight)
    expected = model("binary", backend=backend)
    expected.fit(X, y, sample_weight=sample_weight * compute_sample_weight("balanced", y))
    assert_same_fit(got, expected)


def test_class_weight_dict(backend):
    X, y = imbalanced()
    got = model("binary", class_weight={1: 4.0}, backend=backend).fit(X, y)
    # A class the dict leaves out weighs 1.
    expected = model("binary", backend=backend).fit(X, y, sample_weight=np.where(y == 1, 4.0, 1))
    assert_same_fit(got, expected)


def test_class_weight_dict_in_partial_fit():
    X, y = imbalanced()
    got = model("binary", class_weight={0: 0.5, 1: 4.0})
    got.partial_fit(X, y, classes=[0, 1])
    expected = model("binary")
    expected.partial_fit(X, y, classes=[0, 1], sample_weight=np.where(y == 1, 4.0, 0.5))
    assert_same_fit(got, expected)


def test_class_weight_dict_leaving_a_class_out_in_partial_fit():
    # A class the dict leaves out weighs 1 in every batch, as it does in fit, even in a
    # batch without the classes the dict names (a stream need not mix its classes).
    X, y = imbalanced()
    got = model("binary", class_weight={1: 4.0})
    expected = model("binary")
    for rows in (np.arange(200), np.flatnonzero(y == 0)[:50]):
        got.partial_fit(X[rows], y[rows], classes=[0, 1])
        weights = np.where(y[rows] == 1, 4.0, 1.0)
        expected.partial_fit(X[rows], y[rows], classes=[0, 1], sample_weight=weights)
    assert_same_fit(got, expected)


def test_balanced_raises_minority_recall():
    # Unweighted, the network favours the majority class and finds few of the 30 held-out
    # minority samples; balanced weights find many more, at a modest cost to the majority.
    X, y = imbalanced()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, stratify=y, test_size=0.4, random_state=0
    )
    params = {"hidden_layer_sizes": (16,), "max_iter": 50, "batch_size": 64}
    recall = {}
    for class_weight in (None, "balanced"):
        est = model("binary", class_weight=class_weight, **params).fit(X_train, y_train)
        y_pred = est.predict(X_test)
        recall[class_weight] = (
            recall_score(y_test, y_pred),
            recall_score(y_test, y_pred, pos_label=0),
        )
    assert recall["balanced"][0] >= recall[None][0] + 0.3
    assert recall["balanced"][1] > 0.8


@pytest.mark.parametrize(
    ("class_weight", "message"),
    [
        ({0: 1.0, 7: 2.0}, r"class_weight has labels \[7\] that are not among the classes"),
        ("auto", "'class_weight' parameter of MLPClassifier"),
    ],
    ids=["unknown_label", "unknown_string"],
)
def test_bad_class_weight_is_named(class_weight, message):
    X, y = imbalanced()
    with pytest.raises(ValueError, match=message):
        model("binary", class_weight=class_weight).fit(X, y)


def test_balanced_refused_by_partial_fit():
    X, y = imbalanced()
    with pytest.raises(
        ValueError, match="class_weight='balanced' is not supported for partial_fit"
    ):
        model("binary", class_weight="balanced").partial_fit(X, y, classes=[0, 1])


def test_class_weight_refused_for_multilabel():
    X, Y = load("multilabel")
    with pytest.raises(ValueError, match="class_weight is not supported for multilabel"):
        model("multilabel", class_weight="balanced").fit(X, Y)


# --- validation_loss_curve_ -------------------------------------------------------------

VALIDATION_FRACTION = 0.2
ALPHA = 0.05


def validation_split(X, y, sizes):
    """The held-out rows, drawn as the estimator draws them: its RandomState(0) first
    gives the Glorot-uniform initial weights (W then b, layer by layer, as scikit-learn's
    ``_init_coef``), then splits, stratified on the labels."""
    random_state = np.random.RandomState(0)
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(6 / (fan_in + fan_out))
        random_state.uniform(-bound, bound, (fan_in, fan_out))
        random_state.uniform(-bound, bound, fan_out)
    _, X_val, _, y_val = train_test_split(
        X, y, random_state=random_state, test_size=VALIDATION_FRACTION, stratify=y
    )
    return X_val, y_val


@pytest.mark.parametrize("solver", ["adam", "adamw"])
def test_validation_loss_curve_is_the_held_out_objective(solver, backend):
    # After each epoch: the binary log-loss of the current model on the held-out rows,
    # plus the L2 penalty alpha / 2 * sum(W**2) / n_val (AdamW has no penalty in its
    # objective: alpha is its weight decay). Computed here by hand from the weights a
    # callback copies after each epoch.
    X, y = load("binary")
    snapshots = []

    def snapshot(est, info):
        snapshots.append(([W.copy() for W in est.coefs_], [b.copy() for b in est.intercepts_]))

    est = model(
        "binary",
        hidden_layer_sizes=(8,),
        max_iter=6,
        alpha=ALPHA,
        solver=solver,
        early_stopping=True,
        validation_fraction=VALIDATION_FRACTION,
        callbacks=snapshot,
        backend=backend,
    ).fit(X, y)
    X_val, y_val = validation_split(X, y, [2, 8, 1])
    scores, losses = [], []
    for (W1, W2), (b1, b2) in snapshots:
        p = expit(np.maximum(X_val @ W1 + b1, 0) @ W2 + b2).ravel()
        data_term = -np.mean(y_val * np.log(p) + (1 - y_val) * np.log(1 - p))
        penalty = 0.5 * ALPHA * (np.sum(W1**2) + np.sum(W2**2)) / y_val.shape[0]
        assert penalty > 1e-3  # large enough to tell the two objectives apart
        losses.append(data_term + (penalty if solver == "adam" else 0.0))
        scores.append(np.mean((p > 0.5) == y_val))
    assert len(est.validation_loss_curve_) == len(est.validation_scores_) == est.n_iter_ == 6
    assert np.all(np.isfinite(est.validation_loss_curve_))
    assert_allclose(est.validation_scores_, scores, rtol=1e-12)  # the same held-out rows
    assert_allclose(est.validation_loss_curve_, losses, rtol=1e-12)


def test_no_validation_loss_curve_without_early_stopping():
    assert fit("binary").validation_loss_curve_ is None


# --- callbacks ------------------------------------------------------------------------

INFO_KEYS = {"epoch", "loss", "validation_score", "validation_loss", "learning_rate"}


class Recorder:
    """A callback that keeps what it is given, and asks to stop at ``stop_at``."""

    def __init__(self, stop_at=None):
        self.infos = []
        self.stop_at = stop_at

    def __call__(self, est, info):
        self.infos.append(dict(info))
        return info["epoch"] == self.stop_at


@pytest.mark.parametrize("early_stopping", [False, True], ids=["training", "early_stopping"])
def test_callback_called_once_per_epoch(early_stopping, backend):
    recorder = Recorder()
    est = fit("binary", callbacks=recorder, early_stopping=early_stopping, backend=backend)
    assert [info["epoch"] for info in recorder.infos] == list(range(1, est.n_iter_ + 1))
    assert all(set(info) == INFO_KEYS for info in recorder.infos)
    assert [info["loss"] for info in recorder.infos] == est.loss_curve_
    if early_stopping:
        assert [info["validation_score"] for info in recorder.infos] == est.validation_scores_
        assert [info["validation_loss"] for info in recorder.infos] == est.validation_loss_curve_
    else:
        assert all(info["validation_score"] is None for info in recorder.infos)
        assert all(info["validation_loss"] is None for info in recorder.infos)


def test_callback_returning_true_stops(backend):
    recorder = Recorder(stop_at=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = fit("binary", callbacks=recorder, max_iter=50, backend=backend)
    assert est.n_iter_ == len(est.loss_curve_) == len(recorder.infos) == 4


def test_callbacks_list_all_called(backend):
    first, stopper, last = Recorder(), Recorder(stop_at=2), Recorder()
    est = fit("binary", callbacks=[first, stopper, last], backend=backend)
    assert est.n_iter_ == 2
    assert len(first.infos) == len(stopper.infos) == len(last.infos) == 2


def test_interrupt_from_callback_leaves_a_consistent_model(backend):
    def interrupt(est, info):
        if info["epoch"] == 3:
            raise KeyboardInterrupt

    X, y = load("binary")
    with pytest.warns(UserWarning, match="Training interrupted by user."):
        got = model("binary", callbacks=interrupt, max_iter=50, backend=backend).fit(X, y)
    assert got.n_iter_ == len(got.loss_curve_) == 3
    assert got.t_ == 3 * X.shape[0]
    assert got.predict(X).shape == y.shape
    # The weights are those after epoch 3: what a 3-epoch fit gives.
    expected = model("binary", max_iter=3, backend=backend).fit(X, y)
    assert_same_fit(got, expected)


@pytest.mark.parametrize("callbacks", [3, [print, 3], "stop"], ids=["int", "list", "str"])
def test_bad_callbacks_are_named(callbacks):
    X, y = load("binary")
    with pytest.raises(ValueError, match="'callbacks' parameter"):
        model("binary", callbacks=callbacks).fit(X, y)


# --- rmsprop and adamw -----------------------------------------------------------------


@pytest.mark.parametrize("solver", ["rmsprop", "adamw"])
def test_solver_learns(solver, backend):
    X, y = load("binary")
    est = model("binary", solver=solver, hidden_layer_sizes=(16,), max_iter=100, backend=backend)
    assert est.fit(X, y).score(X, y) >= 0.95


def test_adamw_without_decay_is_adam(backend):
    got = fit("multiclass", solver="adamw", alpha=0.0, backend=backend)
    expected = fit("multiclass", solver="adam", alpha=0.0, backend=backend)
    assert_same_fit(got, expected)


def test_adamw_alpha_is_decay_not_penalty(backend):
    # With one batch per epoch the first epoch's loss is the loss at the initial weights:
    # for AdamW it has no penalty term, whatever alpha. Afterwards the decay shrinks the
    # weights.
    params = {"solver": "adamw", "batch_size": 200, "max_iter": 30, "backend": backend}
    decayed = fit("binary", alpha=5.0, **params)
    plain = fit("binary", alpha=0.0, **params)
    assert decayed.loss_curve_[0] == plain.loss_curve_[0]
    weight_norm = [np.sqrt(sum(np.sum(W**2) for W in est.coefs_)) for est in (decayed, plain)]
    assert weight_norm[0] < 0.9 * weight_norm[1]


# --- cosine and step schedules ----------------------------------------------------------

MAX_ITER = 9
LR_INIT = 0.05


def scheduled_rate(schedule, epoch):
    """The rate after ``epoch`` epochs (over MAX_ITER epochs, from LR_INIT)."""
    if schedule == "cosine":
        return LR_INIT * (1 + np.cos(np.pi * epoch / MAX_ITER)) / 2
    return LR_INIT * 0.1 ** np.floor(epoch / (MAX_ITER // 3))


@pytest.mark.parametrize("schedule", ["cosine", "step"])
@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop", "adamw"])
def test_rate_seen_by_callbacks_follows_the_schedule(solver, schedule, backend):
    recorder = Recorder()
    fit(
        "binary",
        solver=solver,
        learning_rate=schedule,
        learning_rate_init=LR_INIT,
        max_iter=MAX_ITER,
        callbacks=recorder,
        backend=backend,
    )
    epochs = np.arange(1, MAX_ITER + 1)
    got = [info["learning_rate"] for info in recorder.infos]
    assert_allclose(got, scheduled_rate(schedule, epochs), rtol=1e-12, atol=1e-18)


@pytest.mark.parametrize("schedule", ["cosine", "step"])
@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop", "adamw"])
def test_schedule_changes_the_fit(solver, schedule):
    # The first epoch runs at lr_init under every schedule; the later ones do not.
    params = {"solver": solver, "max_iter": MAX_ITER}
    got = fit("binary", learning_rate=schedule, **params)
    constant = fit("binary", learning_rate="constant", **params)
    assert got.loss_curve_[0] == constant.loss_curve_[0]
    assert not np.allclose(parameters(got), parameters(constant))


@pytest.mark.parametrize("schedule", ["invscaling", "adaptive"])
@pytest.mark.parametrize("solver", ["adam", "rmsprop", "adamw"])
def test_sgd_only_schedules_leave_other_solvers_constant(solver, schedule):
    # As in scikit-learn, invscaling and adaptive apply to sgd alone.
    got = fit("binary", solver=solver, learning_rate=schedule)
    expected = fit("binary", solver=solver, learning_rate="constant")
    assert_same_fit(got, expected)


# --- huber and absolute_error -------------------------------------------------------------


@pytest.mark.parametrize("loss", ["huber", "absolute_error"])
def test_robust_loss_learns(loss, backend):
    X, y = load("regression")
    est = model("regression", loss=loss, hidden_layer_sizes=(16,), max_iter=60, backend=backend)
    est.fit(X, y)
    # Every early epoch improves (near the optimum the absolute error's sign gradient
    # makes the loss hover), and the loss ends far below where it began.
    assert np.all(np.diff(est.loss_curve_[:10]) < 0)
    assert est.loss_curve_[-1] < 0.2 * est.loss_curve_[0]
    assert est.score(X, y) > 0.9


@functools.cache
def _outliers():
    """200 noisy samples of sin(x) on [-2, 2], ten of them shifted up by 50."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(200, 1))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=200)
    y[rng.choice(200, size=10, replace=False)] += 50
    return X, y


@pytest.mark.parametrize("loss", ["huber", "absolute_error"])
def test_robust_loss_ignores_outliers(loss):
    # Squared error fits the mean, which the outliers drag up by about 50 * 10 / 200;
    # the absolute error fits the median, and Huber's linear tails act the same way.
    X, y = _outliers()
    X_test = np.linspace(-2, 2, 50)[:, None]
    clean = np.sin(X_test[:, 0])
    params = {"hidden_layer_sizes": (16,), "max_iter": 200, "tol": 1e-4, "n_iter_no_change": 10}
    errors = {}
    for name in (loss, "squared_error"):
        est = model("regression", loss=name, **params).fit(X, y)
        errors[name] = np.mean(np.abs(est.predict(X_test) - clean))
    assert errors[loss] < 0.3
    assert errors["squared_error"] > 1.5


# --- leaky_relu --------------------------------------------------------------------------


def test_leaky_relu_learns(backend):
    X, y = load("binary")
    est = model(
        "binary", activation="leaky_relu", hidden_layer_sizes=(16,), max_iter=100, backend=backend
    )
    assert est.fit(X, y).score(X, y) >= 0.95


def test_leaky_relu_passes_negative_inputs(backend):
    # Unlike relu, a negative pre-activation still reaches the output, scaled by 0.01.
    est = fit("binary", activation="leaky_relu", hidden_layer_sizes=(3,), backend=backend)
    (W1, W2), (b1, b2) = est.coefs_, est.intercepts_
    X = np.array([[-2.0, -2.0], [2.0, 2.0], [2.0, -2.0]])
    Z1 = X @ W1 + b1
    assert np.any(Z1 < 0)
    logit = np.where(Z1 < 0, 0.01 * Z1, Z1) @ W2 + b2
    relu_logit = np.maximum(Z1, 0) @ W2 + b2
    assert not np.allclose(logit, relu_logit)
    assert_allclose(est.predict_proba(X)[:, 1], expit(logit).ravel(), rtol=1e-12)


def test_callbacks_with_lbfgs_run_each_iteration_and_can_stop():
    # L-BFGS has no epochs: callbacks run after each of its iterations, and a True stops
    # it exactly where max_iter would have, without a ConvergenceWarning.
    X, y = load("binary")
    seen = []

    def stop_at_five(est, info):
        seen.append(info["loss"])
        return info["epoch"] >= 5

    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0, dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        got = MLPClassifier(**params, callbacks=stop_at_five).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        expected = MLPClassifier(**params, max_iter=5).fit(X, y)
    assert len(seen) == got.n_iter_ == 5
    assert_allclose(got.loss_, expected.loss_, rtol=1e-12)
    assert_allclose(seen[-1], got.loss_, rtol=1e-12)
    for W_got, W_expected in zip(got.coefs_, expected.coefs_):
        assert_allclose(W_got, W_expected, rtol=1e-12)
