"""``fastnn.save`` and ``fastnn.load``: exact round trips, atomic writes, refused files."""

import json
import os
import pickle

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from problems import TARGETS, estimators, load
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

import fastnn
from fastnn import MLPClassifier, MLPRegressor
from fastnn.io import META_KEY, ModelFileError, load_with_extra
from fastnn.model_codec import FORMAT_VERSION, decode_value, encode_value, is_live_object


def _fitted(target, **params):
    params = {"hidden_layer_sizes": (5,), "max_iter": 5, "random_state": 0, **params}
    model, _ = estimators(target, **params)
    X, y = load(target)
    return model.fit(X, y), X


def _predictions(model, X):
    out = {"predict": model.predict(X)}
    if hasattr(model, "predict_proba"):
        out["predict_proba"] = model.predict_proba(X)
    return out


def _assert_same_model(got, expected, X):
    assert type(got) is type(expected)
    assert got.get_params() == expected.get_params()
    for key, value in vars(expected).items():
        if key in ("_optimizer", "_random_state"):
            continue
        if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            for a, b in zip(getattr(got, key), value, strict=True):
                assert_array_equal(a, b)
                assert a.dtype == b.dtype
        elif isinstance(value, np.ndarray):
            assert_array_equal(getattr(got, key), value)
            assert getattr(got, key).dtype == value.dtype, key
        elif key != "_label_binarizer":
            assert getattr(got, key) == value, key
    for name, expected_out in _predictions(expected, X).items():
        got_out = _predictions(got, X)[name]
        assert_array_equal(got_out, expected_out)
        assert got_out.dtype == expected_out.dtype


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("target", TARGETS)
def test_round_trip_predicts_exactly(tmp_path, target, solver):
    expected, X = _fitted(target, solver=solver)
    fastnn.save(expected, tmp_path / "model.npz")
    got = fastnn.load(tmp_path / "model.npz")
    _assert_same_model(got, expected, X)


@pytest.mark.parametrize("labels_dtype", [str, object])
def test_string_labels(tmp_path, labels_dtype):
    X, y = load("multiclass")
    labels = np.array(["setosa", "versicolor", "virginica"], dtype=labels_dtype)[y]
    expected = MLPClassifier((5,), max_iter=5, random_state=0).fit(X, labels)
    fastnn.save(expected, tmp_path / "model.npz")
    got = fastnn.load(tmp_path / "model.npz")
    assert_array_equal(got.classes_, expected.classes_)
    assert got.classes_.dtype == expected.classes_.dtype
    _assert_same_model(got, expected, X)


def test_float32_and_feature_names(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = load("binary")
    frame = pd.DataFrame(X.astype(np.float32), columns=["x1", "x2"])
    expected = MLPClassifier((5,), max_iter=5, random_state=0).fit(frame, y)
    fastnn.save(expected, tmp_path / "model.npz")
    got = fastnn.load(tmp_path / "model.npz")
    assert got.coefs_[0].dtype == np.float32
    assert_array_equal(got.feature_names_in_, ["x1", "x2"])
    assert got.feature_names_in_.dtype == object
    assert_array_equal(got.predict_proba(frame), expected.predict_proba(frame))
    with pytest.raises(ValueError, match="feature names"):
        got.predict(frame.rename(columns={"x1": "other"}))


def test_early_stopping_attributes(tmp_path):
    expected, X = _fitted("binary", early_stopping=True, max_iter=8)
    fastnn.save(expected, tmp_path / "model.npz")
    got = fastnn.load(tmp_path / "model.npz")
    assert got.validation_scores_ == expected.validation_scores_
    assert got.best_validation_score_ == expected.best_validation_score_
    _assert_same_model(got, expected, X)


def _never_stop(model, info):
    return False


@pytest.mark.parametrize(
    "params",
    [
        {"class_weight": {"left": 1.0, "right": 3.0}},
        {"class_weight": "balanced", "dropout": [0.2], "solver": "adamw"},
        {"solver": "rmsprop", "activation": "leaky_relu", "early_stopping": True},
        {"callbacks": [_never_stop], "learning_rate": "cosine", "solver": "sgd"},
    ],
    ids=["class_weight", "dropout", "validation_loss", "callbacks"],
)
def test_fastnn_parameters_round_trip(tmp_path, params):
    X, y = load("binary")
    labels = np.array(["left", "right"])[y]
    expected = MLPClassifier((5,), max_iter=5, random_state=0, **params).fit(X, labels)
    fastnn.save(expected, tmp_path / "model.npz")
    got = fastnn.load(tmp_path / "model.npz")
    if "callbacks" in params:  # code is not saved: callbacks come back as None
        assert got.callbacks is None
        expected.set_params(callbacks=None)
    _assert_same_model(got, expected, X)


@pytest.mark.parametrize("loss", ["huber", "absolute_error"])
def test_regression_losses_round_trip(tmp_path, loss):
    X, y = load("regression")
    expected = MLPRegressor(loss=loss, hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    expected.fit(X, y)
    fastnn.save(expected, tmp_path / "model.npz")
    _assert_same_model(fastnn.load(tmp_path / "model.npz"), expected, X)


def test_training_continues_after_load(tmp_path):
    model, X = _fitted("binary")
    fastnn.save(model, tmp_path / "model.npz")
    loaded = fastnn.load(tmp_path / "model.npz")
    loaded.partial_fit(X, load("binary")[1])
    assert len(loaded.loss_curve_) == len(model.loss_curve_) + 1
    assert loaded.t_ == model.t_ + X.shape[0]


def test_extra_arrays(tmp_path):
    model, _ = _fitted("regression")
    extra = {"mean": np.array([1.5, -2.0]), "scale": 3.0, "target": "label"}
    fastnn.save(model, tmp_path / "model.npz", extra=extra)
    _, got = load_with_extra(tmp_path / "model.npz")
    assert sorted(got) == ["mean", "scale", "target"]
    assert_array_equal(got["mean"], extra["mean"])
    assert float(got["scale"]) == 3.0
    assert str(got["target"]) == "label"
    assert load_with_extra(_save(tmp_path, model))[1] == {}


def test_random_state_instance_is_saved_as_none(tmp_path):
    X, y = load("binary")
    model = MLPClassifier((3,), max_iter=2, random_state=np.random.RandomState(0)).fit(X, y)
    fastnn.save(model, tmp_path / "model.npz")
    assert fastnn.load(tmp_path / "model.npz").random_state is None
    with np.load(tmp_path / "model.npz") as archive:
        assert json.loads(str(archive[META_KEY]))["params_saved_as_none"] == ["random_state"]


@pytest.mark.parametrize(
    "value",
    [None, "balanced", 0.5, 3, True, (64, 64), [0.1, 0.2], {0: 1.0, 1: 2.5}, {"a": 2.0}],
)
def test_parameter_values_round_trip(value):
    code = json.loads(json.dumps(encode_value(value, "value")))
    got = decode_value(code)
    assert got == value
    assert type(got) is type(value)


def test_numpy_values_keep_their_type():
    got = decode_value(json.loads(json.dumps(encode_value(np.float32(0.1), "value"))))
    assert got == np.float32(0.1) and got.dtype == np.float32
    assert encode_value(np.float32, "dtype") == {"value": "float32"}


@pytest.mark.parametrize(
    "value, live",
    [(np.random.RandomState(0), True), (print, True), ([print, len], True), (None, False),
     ((64,), False), ([], False), (MLPClassifier, False)],
)  # fmt: skip
def test_live_objects_are_recognised(value, live):
    assert is_live_object(value) is live


def test_estimators_pickle_cleanly():
    for target in ("binary", "regression"):
        expected, X = _fitted(target)
        got = pickle.loads(pickle.dumps(expected))
        _assert_same_model(got, expected, X)


# --- what save refuses, and atomic writes ------------------------------------------


def test_unfitted_model_is_refused(tmp_path):
    with pytest.raises(NotFittedError, match="not fitted"):
        fastnn.save(MLPRegressor(), tmp_path / "model.npz")
    assert not os.listdir(tmp_path)


def test_other_estimators_are_refused(tmp_path):
    X, y = load("binary")
    with pytest.raises(TypeError, match="got LogisticRegression"):
        fastnn.save(LogisticRegression().fit(X, y), tmp_path / "model.npz")


def test_values_needing_pickle_are_refused(tmp_path):
    model, _ = _fitted("binary")
    with pytest.raises(TypeError, match=r"extra\['bad'\] is an object array holding dict"):
        fastnn.save(model, tmp_path / "model.npz", extra={"bad": np.array([{}], dtype=object)})
    assert not os.listdir(tmp_path)


def test_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = _save(tmp_path, _fitted("binary")[0])
    before = path.read_bytes()

    def savez_then_fail(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", savez_then_fail)
    with pytest.raises(OSError, match="disk full"):
        fastnn.save(_fitted("multiclass")[0], path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


def test_save_replaces_an_existing_file(tmp_path):
    path = _save(tmp_path, _fitted("binary")[0])
    fastnn.save(_fitted("regression")[0], path)
    assert isinstance(fastnn.load(path), MLPRegressor)
    assert os.listdir(tmp_path) == ["model.npz"]


def test_save_into_a_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="no directory"):
        fastnn.save(_fitted("binary")[0], tmp_path / "nowhere" / "model.npz")


# --- what load refuses ---------------------------------------------------------------


def _save(tmp_path, model, name="model.npz"):
    path = tmp_path / name
    fastnn.save(model, path)
    return path


def _rewrite(path, change):
    """Apply ``change`` to the archive's arrays (and the decoded metadata), in place."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = json.loads(str(arrays[META_KEY]))
    change(arrays, meta)
    arrays[META_KEY] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


class _Payload:
    """Unpickling this creates ``marker``: a stand-in for code a file might carry."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="Model file not found: .*absent.npz"):
        fastnn.load(tmp_path / "absent.npz")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not an .npz archive"),
        (b"hello, world", "not an .npz archive"),
        (b"PK\x03\x04" + b"\0" * 100, "corrupt or truncated"),
    ],
)
def test_garbage_files(tmp_path, content, message):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        fastnn.load(path)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_file(tmp_path, keep):
    path = _save(tmp_path, _fitted("multiclass")[0])
    data = path.read_bytes()
    path.write_bytes(data[: int(keep * len(data))])
    with pytest.raises(ModelFileError, match="corrupt or truncated"):
        fastnn.load(path)


def test_npz_of_another_program(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(ModelFileError, match="not a fastnn model file"):
        fastnn.load(path)


def test_object_arrays_are_refused_unexecuted(tmp_path):
    marker = tmp_path / "executed"
    path = _save(tmp_path, _fitted("binary")[0])
    payload = np.array([_Payload(marker)], dtype=object)
    _rewrite(path, lambda arrays, meta: arrays.update({"coefs_.0": payload}))
    with pytest.raises(ModelFileError, match="object arrays"):
        fastnn.load(path)
    assert not marker.exists()


def test_pickle_files_are_refused_unexecuted(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ModelFileError):
        fastnn.load(path)
    assert not marker.exists()


def test_newer_format_is_refused_naming_both_versions(tmp_path):
    path = _save(tmp_path, _fitted("binary")[0])
    newer = FORMAT_VERSION + 1
    _rewrite(path, lambda arrays, meta: meta.update(format_version=newer))
    with pytest.raises(ModelFileError, match=rf"version {newer}.*up to {FORMAT_VERSION}"):
        fastnn.load(path)


def _tamper_metadata(meta):
    meta["params"]["no_such_param"] = {"value": 1}


def _tamper_shape(arrays, meta):
    arrays["coefs_.0"] = arrays["coefs_.0"][:, :2]


def _tamper_sizes(arrays, meta):
    arrays["_sizes"] = arrays["_sizes"] * 2


def _tamper_class(meta):
    meta["class"] = "os.system"


def _tamper_codes(arrays, meta):
    arrays["_codes"] = arrays["_codes"] + 100


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda arrays, meta: _tamper_metadata(meta), "no parameters"),
        (_tamper_shape, "weight and bias shapes"),
        (_tamper_sizes, "shapes"),
        (lambda arrays, meta: _tamper_class(meta), "unknown estimator class 'os.system'"),
        (_tamper_codes, "invalid kernel codes"),
        (lambda arrays, meta: arrays.pop("classes_"), "KeyError"),
        (lambda arrays, meta: meta["attributes"].pop("coefs_"), "missing"),
        (lambda arrays, meta: meta["attributes"].update(__class__={"value": 1}), "invalid attr"),
        (lambda arrays, meta: meta.update(format="something"), "not fastnn model metadata"),
    ],
)
def test_inconsistent_files_are_refused(tmp_path, change, message):
    path = _save(tmp_path, _fitted("binary")[0])
    _rewrite(path, change)
    with pytest.raises(ModelFileError, match=message):
        fastnn.load(path)
