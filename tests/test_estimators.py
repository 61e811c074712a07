"""The estimators' API: parameter checks, input checks, pickling, partial_fit rules."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastnn import MLPClassifier, MLPRegressor

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 5)
y = np.array([0, 1, 1, 0] * 5)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"alpha": -1.0},
            r"'alpha' parameter of MLPClassifier must be a float in the range \[0, inf\)",
        ),
        ({"learning_rate_init": 0.0}, r"'learning_rate_init' .* range \(0, inf\)"),
        ({"momentum": 1.5}, r"'momentum' .* range \[0, 1\]"),
        ({"max_iter": 0}, r"'max_iter' .* an int in the range \[1, inf\)"),
        (
            {"activation": "swish"},
            r"'activation' .* \{'identity', 'leaky_relu', 'logistic', 'relu', 'tanh'\}",
        ),
        ({"solver": "newton"}, r"'solver' parameter"),
        ({"batch_size": 0}, r"'batch_size' .* 'auto' or an int"),
        ({"hidden_layer_sizes": (3, 0)}, r"'hidden_layer_sizes' .* ints >= 1"),
        ({"validation_fraction": 1.0}, r"'validation_fraction' .* range \[0, 1\)"),
        ({"backend": "torch"}, r"'backend' .* one of \{'numba', 'numpy'\}"),
        ({"dtype": "int8"}, r"'dtype' .* None, 'float32' or 'float64'"),
        ({"dtype": "no-such-type"}, r"'dtype' .* None, 'float32' or 'float64'"),
    ],
)
def test_invalid_parameter_is_named(params, message):
    with pytest.raises(ValueError, match=message):
        MLPClassifier(**params).fit(X, y)


def test_invalid_regressor_loss_is_named():
    with pytest.raises(ValueError, match=r"'loss' parameter of MLPRegressor"):
        MLPRegressor(loss="quantile").fit(X, y.astype(float))


def test_poisson_refuses_negative_targets():
    with pytest.raises(ValueError, match="non-negative targets"):
        MLPRegressor(loss="poisson").fit(X, y - 1.0)


def test_wrong_number_of_features_at_predict():
    model = MLPClassifier((3,), max_iter=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 2"):
        model.predict(np.ones((2, 3)))


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_pickle_round_trip_predicts_the_same(solver):
    model = MLPClassifier((5,), solver=solver, max_iter=20, random_state=0).fit(X, y)
    clone = pickle.loads(pickle.dumps(model))
    assert_array_equal(clone.predict_proba(X), model.predict_proba(X))


def test_partial_fit_only_for_stochastic_solvers():
    assert hasattr(MLPClassifier(solver="adam"), "partial_fit")
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as error:
        MLPClassifier(solver="lbfgs").partial_fit(X, y, classes=[0, 1])
    assert "lbfgs is not stochastic" in str(error.value.__cause__)


def test_partial_fit_needs_classes_first():
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(X, y)


def test_partial_fit_refuses_early_stopping():
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1])


def test_warm_start_refuses_new_classes():
    model = MLPClassifier((3,), max_iter=2, warm_start=True, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same"):
        model.fit(X, y + 1)


@pytest.mark.parametrize("names", [None, np.array(["a", "b", "c"])], ids=["ints", "strings"])
def test_partial_fit_refuses_classes_it_was_not_given(names):
    """Labels outside ``classes`` are refused with scikit-learn's message, and the
    classes it was given in any subset are taken."""
    labels = np.asarray(y) if names is None else names[y]
    model = MLPClassifier((3,), random_state=0).partial_fit(X, labels, classes=labels[:2])
    model.partial_fit(X[:1], labels[:1])
    other = (labels + 2) if names is None else names[np.asarray(y) + 1]
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`"):
        model.partial_fit(X, other)


def test_string_labels():
    labels = np.array(["no", "yes"])[y]
    model = MLPClassifier((8,), solver="lbfgs", random_state=0).fit(X, labels)
    assert set(model.predict(X)) <= {"no", "yes"}
    assert_array_equal(model.classes_, ["no", "yes"])


def test_predict_proba_rows_sum_to_one_and_log_matches():
    Xm = np.vstack([X, X + 2.0])
    ym = np.concatenate([y, y + 2])
    model = MLPClassifier((6,), max_iter=30, random_state=0).fit(Xm, ym)
    proba = model.predict_proba(Xm)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(model.predict_log_proba(Xm), np.log(proba))


def test_verbose_prints_each_epoch_as_scikit_learn_does(capsys):
    # "Iteration k, loss = ..." for every epoch, the same lines as scikit-learn's for
    # the same fit; each partial_fit call is its own iteration 1, as in scikit-learn.
    from sklearn.neural_network import MLPClassifier as SKClassifier

    params = {"hidden_layer_sizes": (5,), "max_iter": 4, "random_state": 0, "verbose": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier(dtype="float64", **params).fit(X, y)
        ours = capsys.readouterr().out.splitlines()
        SKClassifier(**params).fit(X, y)
        theirs = capsys.readouterr().out.splitlines()
        MLPClassifier(dtype="float64", **params).partial_fit(X, y, classes=[0, 1]).partial_fit(X, y)
        ours_partial = capsys.readouterr().out.splitlines()
        SKClassifier(**params).partial_fit(X, y, classes=[0, 1]).partial_fit(X, y)
        theirs_partial = capsys.readouterr().out.splitlines()

    def iterations(lines):
        return [line for line in lines if line.startswith("Iteration")]

    assert iterations(ours) == iterations(theirs)
    assert [line.split(",")[0] for line in iterations(ours)] == [
        f"Iteration {k}" for k in range(1, 5)
    ]
    assert iterations(ours_partial) == iterations(theirs_partial)
    assert len(iterations(ours_partial)) == 2
