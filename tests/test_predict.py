"""Prediction (``fastnn/kernels/dense.py``: ``predict_rows``; ``fastnn/engine.py``;
``fastnn/_base.py``: ``_plain_input``): by blocks of rows, on one thread or two, the
outputs a layer-at-a-time forward pass gives, and every check of scikit-learn's kept
where plain arrays skip its validation."""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification, make_regression

import fastnn
from fastnn import _codes as C
from fastnn import engine, kernels, layout
from fastnn._workers import start_helper, workers_forced
from fastnn.kernels.dense import PREDICT_BLOCK

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X, y = make_classification(3000, 12, n_informative=6, n_classes=3, random_state=0)
QUICK = {"hidden_layer_sizes": (32, 16), "max_iter": 3, "random_state": 0}


def _fitted(dtype="float64", **settings):
    return fastnn.MLPClassifier(**QUICK, **settings, dtype=dtype).fit(X, y)


def _layer_at_a_time(model, A):
    """The training forward pass, a layer at a time over every row (no dropout)."""
    sizes, codes = model._sizes, model._codes
    theta = layout.pack(model.coefs_, model.intercepts_, A.dtype)
    work = np.zeros(layout.work_size(sizes, A.shape[0], gather=False), dtype=A.dtype)
    scalars = C.new_scalars(len(sizes) - 2)
    kernels.forward(A, (sizes, codes), theta, scalars, work)
    n_out = sizes[-1]
    start = layout.layer_start(sizes, work.shape[0], len(sizes) - 2, 0)
    return work[start : start + A.shape[0] * n_out].reshape(-1, n_out)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
def test_one_block_is_the_layer_at_a_time_pass_bit_for_bit(activation, dtype):
    model = _fitted(dtype, activation=activation)
    for n in (1, 7, PREDICT_BLOCK):
        A = X[:n].astype(dtype)
        assert_array_equal(engine.predict_output(model, A), _layer_at_a_time(model, A))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_blocks_and_threads_do_not_change_the_bits(dtype, monkeypatch):
    model = _fitted(dtype)
    A = X.astype(dtype)
    monkeypatch.setattr(engine, "TWO_THREADS_MIN_WORK", 0)  # two threads for 3,000 rows
    helpers = []

    def counted(fn, args):
        helpers.append(args[0].shape[0])
        return start_helper(fn, args)

    monkeypatch.setattr(engine, "start_helper", counted)
    with workers_forced(1):
        one = engine.predict_output(model, A)
    assert not helpers
    with workers_forced(2):
        two = engine.predict_output(model, A)
    assert helpers == [A.shape[0] - 12 * PREDICT_BLOCK]  # the second half, from a block
    assert_array_equal(one, two)
    # each block of rows as it is predicted alone
    blocks = [
        engine.predict_output(model, np.ascontiguousarray(A[r : r + PREDICT_BLOCK]))
        for r in range(0, A.shape[0], PREDICT_BLOCK)
    ]
    assert_array_equal(one, np.concatenate(blocks))
    np.testing.assert_allclose(
        one, _layer_at_a_time(model, A), rtol=1e-5 if dtype == "float32" else 1e-12
    )


def test_plain_arrays_skip_validation_and_give_the_same_outputs():
    model = _fitted()
    checked = model.predict_proba(X.tolist())  # a list: scikit-learn's checks
    assert model._plain_input(X) and not model._plain_input(X.tolist())
    assert_array_equal(model.predict_proba(X), checked)
    assert_array_equal(model.predict_proba(X[:1]), model.predict_proba(X[:1].tolist()))
    assert_array_equal(model.predict_proba(np.asfortranarray(X)), checked)
    assert_array_equal(model.predict(X[:5]), model.predict(X[:5].tolist()))


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.nan, "Input X contains NaN"),
        (np.inf, "Input X contains infinity"),
    ],
)
def test_plain_arrays_with_nan_or_inf_are_refused_as_by_scikit_learn(bad, match):
    model = _fitted()
    A = X[:3].copy()
    A[1, 2] = bad
    assert not model._plain_input(A)
    with pytest.raises(ValueError, match=match):
        model.predict_proba(A)


def test_huge_finite_values_are_plain():
    model = fastnn.MLPRegressor(**QUICK).fit(X, X[:, 0])
    A = np.full((2, X.shape[1]), 1e307)  # finite, though any sum of them overflows
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model._plain_input(A)
        assert model.predict(A).shape == (2,)


def test_the_wrong_width_and_feature_names_are_still_checked():
    model = _fitted()
    with pytest.raises(ValueError, match="has 11 features, but MLPClassifier is expecting 12"):
        model.predict(X[:, :11].copy())
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(12)])
    named = fastnn.MLPClassifier(**QUICK).fit(frame, y)
    assert not named._plain_input(X[:2])
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        from_array = named.predict(X[:5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_array_equal(named.predict(frame[:5]), from_array)


def test_binary_probabilities_are_one_minus_p_and_p():
    model = fastnn.MLPClassifier(**QUICK).fit(X, y == 1)
    proba = model.predict_proba(X[:50])
    p = engine.predict_output(model, X[:50])[:, 0]
    assert proba.shape == (50, 2) and proba.flags.c_contiguous
    assert_array_equal(proba[:, 1], p)
    assert_array_equal(proba[:, 0], 1 - p)


def test_regressor_and_numpy_engine_predict_through_the_same_path():
    Xr, yr = make_regression(600, 8, random_state=0)
    for backend in ("numba", "numpy"):
        model = fastnn.MLPRegressor(**QUICK, backend=backend).fit(Xr, yr / 100)
        assert_array_equal(model.predict(Xr), model.predict(Xr.tolist()))


def test_a_model_without_n_features_in_predicts_through_the_checks():
    model = _fitted()
    expected = model.predict_proba(X[:10])
    del model.n_features_in_  # an old model file, or a conversion from an old version
    assert not model._plain_input(X[:10])
    assert_array_equal(model.predict_proba(X[:10]), expected)


def test_a_large_model_predicts_from_its_own_vector_without_a_copy():
    # Packing a large model's parameters for every call cost milliseconds (4 ms for a
    # 50,000 x 100 first layer); its coefs_ are views of one vector, which is read.
    X_wide = np.random.RandomState(0).rand(50, 700)
    model = fastnn.MLPClassifier((100,), max_iter=2, random_state=0, dtype="float64")
    model.fit(X_wide, y[:50])
    assert engine.parameters(model, np.float64) is model.coefs_[0].base
    assert len(model.classes_) == 3  # softmax outputs: predict_proba is the output layer
    assert_array_equal(model.predict_proba(X_wide), _layer_at_a_time(model, X_wide))
    # A small model, or one whose arrays are its own, is packed afresh.
    small = _fitted()
    assert engine.parameters(small, np.float64) is not small.coefs_[0].base
    model.coefs_ = [W.copy() for W in model.coefs_]
    theta = engine.parameters(model, np.float64)
    assert_array_equal(theta, layout.pack(model.coefs_, model.intercepts_, np.float64))
