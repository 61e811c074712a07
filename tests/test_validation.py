"""Input and parameter validation: bad input is refused with a message that names it.

Every data check gives scikit-learn's message (fastnn validates through
``sklearn.utils.validation``), and every constructor parameter is checked at ``fit``
with a message naming the parameter and its allowed values.
"""

import re
import warnings
from numbers import Integral

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError

from fastnn import MLPClassifier, MLPRegressor, _params

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 5)
y = np.array([0, 1, 1, 0] * 5)
ESTIMATORS = [MLPClassifier, MLPRegressor]
QUICK = {"hidden_layer_sizes": (3,), "max_iter": 3, "random_state": 0}

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def targets(estimator):
    return y if estimator is MLPClassifier else y.astype(float)


def with_value(array, row, column, value):
    array = array.astype(float)
    array[row, column] = value
    return array


# --- Data --------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize(
    ("bad_X", "message"),
    [
        (with_value(X, 3, 1, np.nan), "Input X contains NaN"),
        (with_value(X, 3, 1, np.inf), "Input X contains infinity"),
        (with_value(X, 3, 1, -np.inf), "Input X contains infinity"),
        (X[:, 0], "Expected 2D array, got 1D array instead"),
        (X.reshape(20, 2, 1), "Found array with dim 3"),
        (np.empty((0, 2)), r"Found array with 0 sample\(s\)"),
        (np.empty((20, 0)), r"Found array with 0 feature\(s\)"),
        (X.astype(complex), "Complex data not supported"),
    ],
    ids=["nan", "inf", "-inf", "1d", "3d", "no-samples", "no-features", "complex"],
)
def test_bad_X_at_fit(estimator, bad_X, message):
    n = len(bad_X) if bad_X.ndim else 0
    with pytest.raises(ValueError, match=message):
        estimator(**QUICK).fit(bad_X, targets(estimator)[:n])


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize(
    ("bad_X", "message"),
    [
        (with_value(X, 0, 0, np.nan), "Input X contains NaN"),
        (with_value(X, 0, 0, np.inf), "Input X contains infinity"),
        (X[0], "Expected 2D array, got 1D array instead"),
        (np.empty((0, 2)), r"Found array with 0 sample\(s\)"),
        (np.ones((2, 3)), "X has 3 features, but ML.* is expecting 2 features as input"),
        (np.ones((2, 1)), "X has 1 features, but ML.* is expecting 2 features as input"),
    ],
    ids=["nan", "inf", "1d", "no-samples", "3-features", "1-feature"],
)
def test_bad_X_at_predict(estimator, bad_X, message):
    model = estimator(**QUICK).fit(X, targets(estimator))
    methods = ["predict", "score"] + (["predict_proba"] if estimator is MLPClassifier else [])
    for method in methods:
        args = (bad_X, targets(estimator)[: len(bad_X)]) if method == "score" else (bad_X,)
        with pytest.raises(ValueError, match=message):
            getattr(model, method)(*args)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_float64_values_too_large_for_float32():
    big = with_value(X, 2, 0, 1e300)
    with pytest.raises(ValueError, match=r"too large for dtype\('float32'\)"):
        MLPClassifier(**QUICK, dtype="float32").fit(big, y)
    model = MLPClassifier(**QUICK, dtype="float32").fit(X, y)
    with pytest.raises(ValueError, match=r"too large for dtype\('float32'\)"):
        model.predict(big)


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["nan", "inf"])
def test_non_finite_y(estimator, value):
    bad_y = y.astype(float)
    bad_y[4] = value
    message = "Input y contains NaN" if np.isnan(value) else "Input y contains infinity"
    with pytest.raises(ValueError, match=message):
        estimator(**QUICK).fit(X, bad_y)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_length_mismatch_of_X_and_y(estimator):
    message = r"inconsistent numbers of samples: \[20, 19\]"
    with pytest.raises(ValueError, match=message):
        estimator(**QUICK).fit(X, targets(estimator)[:-1])


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize(
    ("sample_weight", "message"),
    [
        (np.ones(19), r"sample_weight.shape == \(19,\), expected \(20,\)"),
        (np.ones((20, 1)), r"sample_weight.shape == \(20, 1\), expected \(20,\)"),
        (np.r_[np.nan, np.ones(19)], "sample_weight contains NaN or infinity"),
        (np.r_[np.inf, np.ones(19)], "sample_weight contains NaN or infinity"),
        (np.r_[-1.0, np.ones(19)], "sample_weight must be non-negative"),
        (np.zeros(20), "Sample weights must contain at least one non-zero number"),
    ],
    ids=["short", "2d", "nan", "inf", "negative", "all-zero"],
)
def test_bad_sample_weight(estimator, sample_weight, message):
    with pytest.raises(ValueError, match=message):
        estimator(**QUICK).fit(X, targets(estimator), sample_weight=sample_weight)


def test_feature_names_must_match():
    frame = pd.DataFrame(X, columns=["a", "b"])
    model = MLPClassifier(**QUICK).fit(frame, y)
    assert_array_equal(model.feature_names_in_, ["a", "b"])
    with pytest.raises(ValueError, match="The feature names should match those"):
        model.predict(frame.rename(columns={"b": "c"}))


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_plain_arrays_are_fitted_as_checked_ones(estimator):
    """Plain arrays skip scikit-learn's checks (fastnn._base._plain_fit_input): the fit
    equals one on the same data as lists, which go through them."""
    plain = estimator(**QUICK).fit(X, targets(estimator))
    checked = estimator(**QUICK).fit(X.tolist(), targets(estimator).tolist())
    assert plain.n_features_in_ == checked.n_features_in_ == 2
    assert not hasattr(plain, "feature_names_in_")
    for got, want in zip(plain.coefs_ + plain.intercepts_, checked.coefs_ + checked.intercepts_):
        assert_array_equal(got, want)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_data_of_the_other_byte_order_is_converted(estimator):
    """Big-endian float64 is not the fit's dtype: it goes through scikit-learn's checks,
    which convert it, and fits as the native array does."""
    native = estimator(**QUICK).fit(X, targets(estimator))
    swapped = estimator(**QUICK).fit(X.astype(">f8"), targets(estimator))
    for got, want in zip(swapped.coefs_, native.coefs_):
        assert_array_equal(got, want)
    assert_array_equal(swapped.predict(X.astype(">f8")), native.predict(X))


def test_partial_fit_of_another_width_is_refused():
    model = MLPClassifier(**QUICK).partial_fit(X, y, classes=[0, 1])
    message = "X has 3 features, but MLPClassifier is expecting 2 features as input"
    with pytest.raises(ValueError, match=message):
        model.partial_fit(np.ones((4, 3)), y[:4])


def test_feature_names_of_an_earlier_fit():
    """After a fit on a DataFrame, an array warns as scikit-learn does when training
    continues, and a new fit forgets the names."""
    model = MLPClassifier(**QUICK).fit(pd.DataFrame(X, columns=["a", "b"]), y)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.partial_fit(X, y)
    model.fit(X, y)
    assert not hasattr(model, "feature_names_in_")


def test_a_sum_that_overflows_is_not_taken_for_infinity():
    """The plain-array check sums X; a finite X whose sum overflows goes through
    scikit-learn's own check, which accepts it."""
    big = np.array([[3e38, 1.0], [3e38, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    with np.errstate(over="ignore"):
        assert not np.isfinite(big.sum())
    model = MLPRegressor(**QUICK, dtype="float32", solver="sgd", learning_rate_init=1e-30)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the sum's overflow is not shown
        model.fit(big, np.zeros(4))
    assert model.n_features_in_ == 2


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_predict_before_fit(estimator):
    with pytest.raises(NotFittedError, match=f"This {estimator.__name__} instance is not fitted"):
        estimator().predict(X)


def test_regressor_takes_numeric_string_targets_as_numbers():
    # scikit-learn's regressor fails inside its loss on them (a UFuncTypeError);
    # fastnn converts them as it converts X (a deliberate difference, README).
    y = np.linspace(0, 1, 20)
    as_text = MLPRegressor(**QUICK).fit(X, y.astype(str))
    as_numbers = MLPRegressor(**QUICK).fit(X, y.astype(str).astype(float))
    assert_array_equal(as_text.predict(X), as_numbers.predict(X))


def test_regressor_refuses_string_targets():
    with pytest.raises(ValueError, match="could not convert string to float"):
        MLPRegressor(**QUICK).fit(X, np.array(["a", "b"])[y])


# --- Class labels ------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize(
    "settings",
    [{}, {"early_stopping": True}, {"solver": "sgd"}, {"solver": "lbfgs"}],
    ids=["adam", "early-stopping", "sgd", "lbfgs"],
)
@pytest.mark.parametrize("labels", [np.full(20, 7), np.full(20, "spam")], ids=["int", "str"])
def test_a_single_class_is_fitted_as_scikit_learn_does(labels, settings, backend):
    # scikit-learn's MLP fits one class (one output unit whose target is 0 everywhere)
    # and then always predicts it: a cross-validation fold or an early-stopping split
    # of one class must not fail under fastnn only.
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    params = {**QUICK, "max_iter": 10, **settings}
    expected = SkMLPClassifier(**params).fit(X, labels)
    model = MLPClassifier(**params, backend=backend).fit(X, labels)
    assert_array_equal(model.classes_, expected.classes_)
    assert model.n_outputs_ == expected.n_outputs_ == 1
    assert_array_equal(model.predict(X), expected.predict(X))
    assert_array_equal(model.predict(X), labels)
    np.testing.assert_allclose(model.predict_proba(X), expected.predict_proba(X), atol=1e-12)
    if settings.get("solver") != "lbfgs":
        np.testing.assert_allclose(model.loss_curve_, expected.loss_curve_, rtol=1e-12)
    assert model.score(X, labels) == 1.0


def test_a_single_class_partial_fit_is_scikit_learns():
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    y = np.ones(20, dtype=int)
    expected = SkMLPClassifier(**QUICK).partial_fit(X, y, classes=[1])
    model = MLPClassifier(**QUICK).partial_fit(X, y, classes=[1])
    assert_array_equal(model.classes_, [1])
    np.testing.assert_allclose(model.loss_curve_, expected.loss_curve_, rtol=1e-12)
    assert_array_equal(model.predict(X), y)


def test_partial_fit_batch_of_one_class_is_fine():
    model = MLPClassifier(**QUICK).partial_fit(X, np.ones(20, dtype=int), classes=[0, 1])
    assert_array_equal(model.classes_, [0, 1])


# Object arrays of numbers (a pandas column of mixed origin) are refused by
# scikit-learn's MLP ("Unknown label type"); fastnn reads them as numbers.
LABELS = {
    "str": np.array(["no", "yes"]),
    "object-str": np.array(["no", "yes"], dtype=object),
    "object-int": np.array([3, 7], dtype=object),
    "multiclass-str": np.array(["ant", "bee", "cat"]),
}


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("kind", LABELS)
def test_string_and_object_labels(kind, solver):
    names = LABELS[kind]
    labels = names[np.arange(20) % len(names)]
    model = MLPClassifier((8,), solver=solver, max_iter=50, random_state=0).fit(X, labels)
    assert_array_equal(model.classes_, sorted(names.tolist()))
    predicted = model.predict(X)
    assert predicted.shape == (20,)
    assert set(predicted.tolist()) <= set(names.tolist())
    assert model.predict_proba(X).shape == (20, len(names))
    assert 0.0 <= model.score(X, labels) <= 1.0


def test_pandas_string_labels():
    labels = pd.Series(np.array(["no", "yes"])[y], dtype="category")
    model = MLPClassifier((8,), solver="lbfgs", random_state=0).fit(pd.DataFrame(X), labels)
    assert set(model.predict(X).tolist()) <= {"no", "yes"}


def test_string_labels_with_partial_fit_and_warm_start():
    labels = np.array(["no", "yes"])[y]
    model = MLPClassifier(**QUICK).partial_fit(X, labels, classes=["no", "yes"])
    model.partial_fit(X[:4], labels[:4])
    assert set(model.predict(X).tolist()) <= {"no", "yes"}
    model = MLPClassifier(**QUICK, warm_start=True).fit(X, labels).fit(X, labels)
    assert set(model.predict(X).tolist()) <= {"no", "yes"}


def test_mixed_string_and_number_labels_are_refused():
    labels = np.array(["no", 1], dtype=object)[y]
    with pytest.raises(ValueError, match="class labels that mix strings and numbers"):
        MLPClassifier(**QUICK).fit(X, labels)


# --- Parameters --------------------------------------------------------------------------

FLOAT_AT_LEAST_0 = r"must be a float in the range \[0, inf\)"
FLOAT_ABOVE_0 = r"must be a float in the range \(0, inf\)"
BOOL = "must be a bool"

# (parameter, bad values, what the message says is allowed)
INVALID = [
    ("hidden_layer_sizes", [(3, 0), 0, "abc", (2.5,), None], "must be an int >= 1 or a sequence"),
    ("activation", ["swish", None], r"must be one of \{'identity', .*'tanh'\}"),
    ("solver", ["newton", None], r"must be one of \{'adam', .*'sgd'\}"),
    ("alpha", [-1.0, np.inf, np.nan, "1", None, True], FLOAT_AT_LEAST_0),
    ("batch_size", [0, 2.5, "Auto", True], r"must be 'auto' or an int in the range \[1, inf\)"),
    ("learning_rate", ["fast"], r"must be one of \{'adaptive', 'constant', .*\}"),
    ("learning_rate_init", [0.0, -1e-3, np.inf], FLOAT_ABOVE_0),
    ("power_t", [-0.5, np.inf], FLOAT_AT_LEAST_0),
    ("max_iter", [0, 2.5, np.inf, True], r"must be an int in the range \[1, inf\)"),
    ("shuffle", [1, "yes", None], BOOL),
    (
        "random_state",
        [-1, 2**32, "seed", 1.5, np.random.default_rng(0)],
        r"must be None, an int in the range \[0, 4294967295\] or a numpy.random.RandomState",
    ),
    ("tol", [-1e-4, np.inf, None], FLOAT_AT_LEAST_0),
    ("verbose", [-1, "yes", 1.5], r"must be a bool or an int in the range \[0, inf\)"),
    ("warm_start", [1, "no"], BOOL),
    ("momentum", [-0.1, 1.5, np.nan], r"must be a float in the range \[0, 1\]"),
    ("nesterovs_momentum", ["yes", 0], BOOL),
    ("early_stopping", [None, 1], BOOL),
    ("validation_fraction", [-0.1, 1.0], r"must be a float in the range \[0, 1\)"),
    ("beta_1", [1.0, -0.1, np.nan], r"must be a float in the range \[0, 1\)"),
    ("beta_2", [1.0, -0.1], r"must be a float in the range \[0, 1\)"),
    ("epsilon", [0.0, -1e-8, np.inf], FLOAT_ABOVE_0),
    (
        "n_iter_no_change",
        [0, 2.5, -np.inf, "10"],
        r"must be an int in the range \[1, inf\) or np.inf",
    ),
    ("max_fun", [0, 1.5], r"must be an int in the range \[1, inf\)"),
    ("dropout", [1.0, -0.1, (0.5, 0.5)], r"must be None, a float in the range \[0, 1\) or"),
    ("callbacks", [3, [print, 3]], "must be None, a callable or a list of callables"),
    ("backend", ["torch", None], r"must be one of \{'numba', 'numpy'\}"),
    ("dtype", ["int8", "float16", "no-such-type"], "must be None, 'float32' or 'float64'"),
]
INVALID_CLASSIFIER = [
    ("class_weight", ["auto", 3], "must be None, 'balanced' or a dict mapping classes"),
]
INVALID_REGRESSOR = [
    ("loss", ["quantile", None], r"must be one of \{'absolute_error', .*'squared_error'\}"),
]


def invalid_cases():
    extras = {MLPClassifier: INVALID_CLASSIFIER, MLPRegressor: INVALID_REGRESSOR}
    for estimator, extra in extras.items():
        for name, values, allowed in INVALID + extra:
            for value in values:
                case_id = f"{estimator.__name__}-{name}-{value!r}"
                yield pytest.param(estimator, name, value, allowed, id=case_id)


@pytest.mark.parametrize(("estimator", "name", "value", "allowed"), list(invalid_cases()))
def test_invalid_parameter_names_itself_and_its_range(estimator, name, value, allowed):
    model = estimator(**{**QUICK, name: value})
    message = rf"The '{name}' parameter of {estimator.__name__} {allowed}"
    with pytest.raises(ValueError, match=message) as error:
        model.fit(X, targets(estimator))
    assert repr(value)[:20] in str(error.value) or name == "dropout"  # "Got <value> instead."


def test_an_int_too_large_for_a_float_fails_as_in_scikit_learn():
    """``alpha=10**400`` is a real number in range, so the check passes it, as
    scikit-learn's does; both fail when it is stored as a float."""
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    for estimator in (MLPClassifier, SklearnMLP):
        with pytest.raises(OverflowError):
            estimator(**{**QUICK, "alpha": 10**400}).fit(X, targets(MLPClassifier))


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_parameter_is_checked(estimator):
    """A parameter added to the estimators needs a row in the table above."""
    extra = INVALID_CLASSIFIER if estimator is MLPClassifier else INVALID_REGRESSOR
    checked = {name for name, _, _ in INVALID + extra}
    assert set(estimator().get_params()) == checked


# --- The constraint table ----------------------------------------------------------------
# check_params walks fastnn._params.CONSTRAINTS; the tests below walk it too: for each
# entry, a value made to fall outside its constraint is refused, with the message naming
# the parameter and the constraint.


def candidates(constraint):
    """Values just outside ``constraint`` (or outside one of the constraints of AnyOf)."""
    if isinstance(constraint, _params.AnyOf):
        for part in constraint.constraints:
            yield from candidates(part)
    elif isinstance(constraint, _params.Interval):
        step = 1 if constraint.kind is Integral else 0.5
        yield constraint.low - step
        if constraint.high is not None:
            yield constraint.high + step
        yield str(constraint.low)
    elif isinstance(constraint, _params.Constant):
        yield "None" if constraint.value is None else None
        yield -constraint.value if not isinstance(constraint.value, str) else "AUTO"
    else:
        kinds = {
            _params.Options: "no-such-option",
            _params.Boolean: "yes",
            _params.Instance: "an instance",
            _params.Callable: 3,
            _params.CallableList: [print, 3],
            _params.FloatDtype: "int8",
            _params.LayerSizes: (3, 0),
        }
        assert type(constraint) in kinds, f"no invalid value for {constraint!r}: add one"
        yield kinds[type(constraint)]


def invalid_value(constraint):
    """The first candidate that ``constraint`` refuses."""
    for value in candidates(constraint):
        if not constraint.is_satisfied_by(value):
            return value
    raise AssertionError(f"every candidate satisfies {constraint!r}")


def table_cases():
    for estimator in ESTIMATORS:
        params = estimator().get_params()
        for name, constraint in _params.CONSTRAINTS.items():
            if name in params:
                case_id = f"{estimator.__name__}-{name}"
                yield pytest.param(estimator, name, constraint, id=case_id)


@pytest.mark.parametrize(("estimator", "name", "constraint"), list(table_cases()))
def test_each_constraint_of_the_table_refuses_a_value_outside_it(estimator, name, constraint):
    value = invalid_value(constraint)
    message = (
        f"The '{name}' parameter of {estimator.__name__} must be {constraint.description}. "
        f"Got {value!r} instead."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        estimator(**{**QUICK, name: value}).fit(X, targets(estimator))


@pytest.mark.parametrize(("estimator", "name", "constraint"), list(table_cases()))
def test_each_default_satisfies_the_table(estimator, name, constraint):
    assert constraint.is_satisfied_by(estimator().get_params()[name])


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_the_table_has_every_parameter_but_dropout_and_class_weight(estimator):
    # Those two are checked where more is known: dropout against the number of hidden
    # layers, class_weight against the classes.
    params = set(estimator().get_params())
    assert params - set(_params.CONSTRAINTS) <= {"dropout", "class_weight"}
    assert set(_params.CONSTRAINTS) - params <= {"loss"}


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        (name, allowed)
        for name, _, allowed in INVALID + INVALID_REGRESSOR
        if name in _params.CONSTRAINTS
    ],
)
def test_the_table_describes_what_the_messages_above_say(name, allowed):
    assert re.fullmatch(allowed + ".*", f"must be {_params.CONSTRAINTS[name].description}")


def test_parameters_are_checked_at_fit_not_in_init():
    model = MLPClassifier(alpha=-1.0)  # scikit-learn's rule: no validation in __init__
    model.set_params(max_iter=0)
    with pytest.raises(ValueError, match="'alpha' parameter"):
        model.fit(X, y)


@pytest.mark.parametrize(
    "params",
    [
        {"n_iter_no_change": np.inf},
        {"random_state": np.random.RandomState(0)},
        {"random_state": np.int64(3)},
        {"verbose": 0},
        {"verbose": np.bool_(False)},
        {"max_iter": np.int64(2)},
        {"alpha": np.float32(1e-3)},
        {"hidden_layer_sizes": ()},
        {"hidden_layer_sizes": np.array([3, 2])},
        {"dtype": np.float32},
        {"batch_size": 1},
        {"validation_fraction": 0.5, "early_stopping": True},
        {"momentum": 1.0},
        {"beta_2": 0.0},
    ],
    ids=lambda params: "-".join(f"{k}={v!r}" for k, v in params.items()),
)
def test_edge_values_are_accepted(params):
    model = MLPClassifier(**{**QUICK, "max_iter": 2, **params}).fit(X, y)
    assert model.predict(X).shape == (20,)


def test_a_bad_value_in_class_weight_names_the_labels():
    with pytest.raises(ValueError, match=r"class_weight has labels \[5\]"):
        MLPClassifier(**QUICK, class_weight={0: 1.0, 5: 2.0}).fit(X, y)


@pytest.mark.parametrize(
    "y",
    [
        np.array([0, 1, 1, 0, 1, 0]),
        np.array([2, 0, 1, 2, 1, 0]),
        np.array(["no", "yes", "yes", "no", "no", "yes"]),
        np.array(["b", "a", "c", "a", "c", "b"], dtype=object),
        np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 1]]),
    ],
    ids=["binary", "multiclass", "strings", "objects", "multilabel"],
)
def test_targets_are_encoded_as_label_binarizer_does(y):
    # The classifier one-hot encodes 1-D labels itself (a shortcut past the binarizer's
    # checks); it must give exactly what LabelBinarizer.transform gives.
    from sklearn.preprocessing import LabelBinarizer

    X = np.arange(12.0).reshape(6, 2)
    model = MLPClassifier(hidden_layer_sizes=(3,), max_iter=1).fit(X, y)
    expected = LabelBinarizer().fit(y).transform(y).astype(bool)
    got = model._encode_targets(y)
    assert got.dtype == bool and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "y",
    [
        np.array([0, 1, 1, 0, 1, 0]),
        np.array([7, 7, 7, 7]),
        np.array([3, -1, 8, 3, 0, 8], dtype=np.int32),
        np.array([5, 2, 9], dtype=np.uint8),
        np.array([4, 1, 4, 2], dtype=">i4"),
        np.array([2.0, 0.0, 1.0, 2.0, 1.0, 0.0]),
        np.array([True, False, True, True]),
        np.array(["no", "yes", "yes", "no", "no", "yes"]),
        np.array(["b", "a", "c", "a", "c", "b"], dtype=object),
        np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]]),
    ],
    ids=[
        "binary",
        "one-class",
        "int32",
        "uint8",
        "big-endian",
        "integral-floats",
        "bools",
        "strings",
        "objects",
        "multilabel",
    ],  # fmt: skip
)
def test_the_binarizer_is_fitted_as_on_all_labels(y):
    # 1-D labels are fitted through their distinct values, which must give the binarizer
    # that fitting on every label gives.
    from sklearn.preprocessing import LabelBinarizer

    from fastnn.labels import label_binarizer

    expected = LabelBinarizer().fit(y)
    got = label_binarizer(y)
    assert got.y_type_ == expected.y_type_
    assert got.sparse_input_ == expected.sparse_input_
    np.testing.assert_array_equal(got.classes_, expected.classes_)
    assert got.classes_.dtype == expected.classes_.dtype
    # The binarizer does the same with them, both ways.
    np.testing.assert_array_equal(got.transform(y), expected.transform(y))
    Y = expected.transform(y)
    np.testing.assert_array_equal(got.inverse_transform(Y), expected.inverse_transform(Y))


def test_continuous_labels_are_refused_as_by_the_binarizer():
    from sklearn.preprocessing import LabelBinarizer

    from fastnn.labels import label_binarizer

    y = np.array([0.5, 1.0, 1.5, 0.5])
    with pytest.raises(ValueError) as expected:
        LabelBinarizer().fit(y)
    with pytest.raises(ValueError, match=re.escape(str(expected.value))):
        label_binarizer(y)
