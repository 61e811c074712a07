"""Conversion to and from scikit-learn's MLP (``fastnn/convert.py``): the same weights,
bit for bit, the same predictions, and a fastnn model that trains on from there."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification, make_moons, make_regression
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.utils.validation import check_is_fitted

import fastnn
from fastnn.convert import SKLEARN_VERSION

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X, y = make_moons(120, noise=0.2, random_state=0)
X3, y3 = make_classification(120, 6, n_informative=4, n_classes=3, random_state=0)
Xr, Yr = make_regression(120, 5, n_targets=2, random_state=0)
Yr = Yr / 100
QUICK = {"hidden_layer_sizes": (8, 4), "max_iter": 15, "random_state": 0}

# (estimator, X, y, settings): every output the two libraries share.
CASES = {
    "binary": (fastnn.MLPClassifier, X, y, {}),
    "multiclass-tanh": (fastnn.MLPClassifier, X3, y3, {"activation": "tanh"}),
    "multilabel": (fastnn.MLPClassifier, X, np.c_[y, 1 - y, y], {}),
    "one-class": (fastnn.MLPClassifier, X, np.full(120, "a"), {}),
    "strings-lbfgs": (fastnn.MLPClassifier, X, np.array(["no", "yes"])[y], {"solver": "lbfgs"}),
    "regression": (fastnn.MLPRegressor, Xr, Yr, {}),
    "regression-1d-logistic": (fastnn.MLPRegressor, Xr, Yr[:, 0], {"activation": "logistic"}),
    "poisson": (fastnn.MLPRegressor, Xr, np.abs(Yr[:, 0]), {"loss": "poisson"}),
}
if SKLEARN_VERSION < (1, 7):  # scikit-learn's Poisson loss came in 1.7
    del CASES["poisson"]


def _outputs(model, X):
    out = [model.predict(X)]
    if hasattr(model, "predict_proba"):
        out.append(model.predict_proba(X))
    return out


@pytest.mark.parametrize("case", CASES)
def test_to_sklearn_has_the_weights_and_the_predictions(case):
    cls, A, target, settings = CASES[case]
    model = cls(**QUICK, **settings).fit(A, target)
    sk = fastnn.to_sklearn(model)
    assert isinstance(sk, SkMLPClassifier if cls is fastnn.MLPClassifier else SkMLPRegressor)
    check_is_fitted(sk)
    for W, W_sk in zip(model.coefs_ + model.intercepts_, sk.coefs_ + sk.intercepts_):
        assert_array_equal(W, W_sk)
        assert not np.shares_memory(W, W_sk)
    for key in ("n_iter_", "n_layers_", "n_outputs_", "out_activation_", "n_features_in_"):
        assert getattr(sk, key) == getattr(model, key)
    assert getattr(sk, "loss_curve_", None) == getattr(model, "loss_curve_", None)
    ours, theirs = _outputs(model, A), _outputs(sk, A)
    if cls is fastnn.MLPClassifier:
        assert_array_equal(theirs[0], ours[0])
        np.testing.assert_allclose(theirs[1], ours[1], rtol=1e-12, atol=1e-15)
    else:  # tanh, logistic and exp may round an ulp apart between NumPy and Numba
        np.testing.assert_allclose(theirs[0], ours[0], rtol=1e-12, atol=1e-15)
    assert sk.get_params()["activation"] == model.activation


@pytest.mark.parametrize("case", CASES)
def test_from_sklearn_has_the_weights_and_the_predictions(case):
    cls, A, target, settings = CASES[case]
    sk_cls = SkMLPClassifier if cls is fastnn.MLPClassifier else SkMLPRegressor
    sk = sk_cls(**QUICK, **settings).fit(A, target)
    model = fastnn.from_sklearn(sk)
    assert isinstance(model, cls)
    for W, W_sk in zip(model.coefs_ + model.intercepts_, sk.coefs_ + sk.intercepts_):
        assert_array_equal(W, W_sk)
    if cls is fastnn.MLPClassifier:
        assert_array_equal(model.classes_, sk.classes_)
    for ours, theirs in zip(_outputs(model, A), _outputs(sk, A)):
        if ours.dtype.kind == "f":
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
        else:
            assert_array_equal(ours, theirs)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_from_sklearn_trains_on(backend):
    sk = SkMLPClassifier(**QUICK).fit(X, y)
    model = fastnn.from_sklearn(sk, warm_start=True, backend=backend)
    assert model.backend == backend and model.warm_start
    model.fit(X, y)  # continues from scikit-learn's weights, as scikit-learn would
    expected = SkMLPClassifier(**QUICK, warm_start=True).fit(X, y).fit(X, y)
    assert model.n_iter_ == expected.n_iter_
    assert len(model.loss_curve_) == len(expected.loss_curve_) == 2 * QUICK["max_iter"]
    assert model.loss_curve_[: QUICK["max_iter"]] == sk.loss_curve_
    # scikit-learn's warm start also starts a new optimizer: the same curve.
    np.testing.assert_allclose(model.loss_curve_, expected.loss_curve_, rtol=1e-12)
    model.partial_fit(X, y)
    assert len(model.loss_curve_) == 2 * QUICK["max_iter"] + 1


@pytest.mark.parametrize("early_stopping", [False, True])
def test_each_library_continues_the_others_model_as_its_own(early_stopping):
    # A warm start in the other library: the same loss curve as a warm start in the
    # library that trained the model (the stopping rule's state goes across too).
    settings = {**QUICK, "max_iter": 30, "n_iter_no_change": 3, "tol": 1e-3}
    settings["early_stopping"] = early_stopping
    ours = fastnn.MLPClassifier(**settings).fit(X, y)
    in_sklearn = fastnn.to_sklearn(ours).set_params(warm_start=True).fit(X, y)
    in_fastnn = fastnn.MLPClassifier(**settings, warm_start=True).fit(X, y).fit(X, y)
    np.testing.assert_allclose(in_sklearn.loss_curve_, in_fastnn.loss_curve_, rtol=1e-12)
    theirs = SkMLPClassifier(**settings).fit(X, y)
    in_fastnn = fastnn.from_sklearn(theirs, warm_start=True).fit(X, y)
    in_sklearn = SkMLPClassifier(**settings, warm_start=True).fit(X, y).fit(X, y)
    np.testing.assert_allclose(in_fastnn.loss_curve_, in_sklearn.loss_curve_, rtol=1e-12)


def test_from_sklearn_casts_to_the_dtype_asked_for():
    sk = SkMLPClassifier(**QUICK).fit(X, y)
    model = fastnn.from_sklearn(sk, dtype="float32", warm_start=True)
    assert all(W.dtype == np.float32 for W in model.coefs_ + model.intercepts_)
    assert_array_equal(model.coefs_[0], sk.coefs_[0].astype(np.float32))
    model.fit(X.astype(np.float32), y)  # trains on in float32
    assert model.coefs_[0].dtype == np.float32


def test_to_sklearn_then_back_is_the_same_model():
    model = fastnn.MLPClassifier(**QUICK, early_stopping=True).fit(X3, y3)
    back = fastnn.from_sklearn(fastnn.to_sklearn(model))
    for W, W_back in zip(model.coefs_ + model.intercepts_, back.coefs_ + back.intercepts_):
        assert_array_equal(W, W_back)
    assert_array_equal(back.predict_proba(X3), model.predict_proba(X3))
    assert back.validation_scores_ == model.validation_scores_


def test_options_only_fastnn_has_are_named_in_a_warning():
    model = fastnn.MLPClassifier(
        **QUICK, solver="adamw", dropout=0.1, learning_rate="cosine", dtype="float32"
    ).fit(X, y)
    with pytest.warns(UserWarning, match=r"dropout=0.1, learning_rate='cosine', solver='adamw'"):
        sk = fastnn.to_sklearn(model)
    per_layer = fastnn.MLPClassifier(**QUICK, dropout=np.array([0.1, 0.0])).fit(X, y)
    with pytest.warns(UserWarning, match=r"dropout=array"):
        fastnn.to_sklearn(per_layer)
    assert sk.solver == "adam" and sk.learning_rate == "constant"
    assert sk.coefs_[0].dtype == np.float32
    np.testing.assert_allclose(sk.predict_proba(X), model.predict_proba(X), rtol=1e-6)


def test_a_hidden_activation_scikit_learn_lacks_is_refused():
    model = fastnn.MLPClassifier(**QUICK, activation="leaky_relu").fit(X, y)
    with pytest.raises(ValueError, match="no activation='leaky_relu'"):
        fastnn.to_sklearn(model)


@pytest.mark.parametrize(
    ("convert", "model", "error", "match"),
    [
        (fastnn.to_sklearn, fastnn.MLPClassifier(), ValueError, "not fitted yet"),
        (fastnn.from_sklearn, SkMLPRegressor(), ValueError, "not fitted yet"),
        (fastnn.to_sklearn, SkMLPClassifier(), TypeError, "expected a fastnn"),
        (fastnn.from_sklearn, fastnn.MLPClassifier(), TypeError, "expected a sklearn"),
    ],
)
def test_bad_models_are_refused(convert, model, error, match):
    with pytest.raises(error, match=match):
        convert(model)


def test_import_fastnn_does_not_import_scikit_learns_mlp():
    # about 30 ms of every `import fastnn`; the conversions import it when first used
    import subprocess
    import sys

    script = "import sys, fastnn; print('sklearn.neural_network' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "False"
