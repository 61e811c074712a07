"""A fitted estimator as plain data and back: JSON-able metadata (parameters, plain
fitted attributes, the names of the arrays) and plain arrays (weights, biases, classes),
nothing that would need pickle. :mod:`fastnn.io` writes and reads them as one ``.npz``
file; this module decides what goes in, and checks what comes out before any kernel
sees it.
"""

import re

import numpy as np
from sklearn.base import is_classifier
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.validation import check_is_fitted

FORMAT = "fastnn-model"
FORMAT_VERSION = 1

# Training-only state, rebuilt when training resumes: not part of the saved model.
_NOT_SAVED = frozenset({"_optimizer", "_random_state"})
# Without these a model cannot predict; a file lacking one is refused.
_REQUIRED = (
    "coefs_",
    "intercepts_",
    "n_features_in_",
    "n_layers_",
    "n_outputs_",
    "out_activation_",
    "_sizes",
    "_codes",
)
_ATTRIBUTE_NAME = re.compile(r"^_?[A-Za-z][A-Za-z0-9_]*$")


class ModelFileError(ValueError):
    """A file that is not a fastnn model this version can read: corrupt, truncated, from
    another program, holding pickled objects, or written by a newer format."""


def _classes():
    from fastnn.estimators import MLPClassifier, MLPRegressor

    return {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}


def encode_model(model):
    classes = _classes()
    name = type(model).__name__
    if classes.get(name) is not type(model):
        raise TypeError(
            f"fastnn.save stores fastnn's MLPClassifier and MLPRegressor; got {name}. "
            "Use joblib or pickle for other estimators."
        )
    check_is_fitted(model, "coefs_")
    params = model.get_params(deep=False)
    live = sorted(key for key, value in params.items() if is_live_object(value))
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastnn_version": fastnn_version(),
        "class": name,
        "params": {
            key: encode_value(None if key in live else value, f"Parameter {key}")
            for key, value in params.items()
        },
        "params_saved_as_none": live,
        "attributes": {},
    }
    arrays = {}
    for key, value in vars(model).items():
        if key in params or key in _NOT_SAVED:
            continue
        if key == "_label_binarizer":
            meta["label_binarizer"] = _encode_label_binarizer(value)
        elif isinstance(value, np.ndarray):
            arrays[key] = plain_array(value, key)
            meta["attributes"][key] = {"array": key, "object": value.dtype == object}
        elif isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
            names = [f"{key}.{i}" for i in range(len(value))]
            arrays.update({name: plain_array(v, key) for name, v in zip(names, value)})
            meta["attributes"][key] = {"arrays": names}
        else:
            meta["attributes"][key] = encode_value(value, f"Fitted attribute {key}")
    return arrays, meta


def fastnn_version():
    from fastnn._version import __version__

    return __version__


def is_live_object(value):
    """A generator, a callable or a list of callables: state or code, not data."""
    if isinstance(value, (list, tuple)):
        return bool(value) and all(callable(v) for v in value)
    return isinstance(value, (np.random.RandomState, np.random.Generator)) or (
        callable(value) and not isinstance(value, type)
    )


def encode_value(value, what):
    """A parameter or attribute as tagged JSON: ``{"value": ...}``, ``{"tuple": [...]}``,
    ``{"list": [...]}``, ``{"dict": [[key, value], ...]}``, or a NumPy scalar with its
    dtype. Tuples, lists and dicts hold numbers, strings, booleans or ``None``."""
    try:
        if isinstance(value, np.generic) and value.dtype.kind in "biuf":
            return {"value": value.item(), "numpy": value.dtype.str}
        if isinstance(value, np.dtype) or (
            isinstance(value, type) and issubclass(value, np.generic)
        ):
            return {"value": np.dtype(value).name}
        if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "biuf":
            return {"list": value.tolist()}
        if isinstance(value, tuple):
            return {"tuple": [_json_scalar(v) for v in value]}
        if isinstance(value, list):
            return {"list": [_json_scalar(v) for v in value]}
        if isinstance(value, dict):
            return {"dict": [[_json_scalar(k), _json_scalar(v)] for k, v in value.items()]}
        return {"value": _json_scalar(value)}
    except TypeError:
        raise TypeError(
            f"{what}={value!r} cannot be saved without pickle: only numbers, strings, "
            "booleans, None, and tuples, lists or dicts of them can."
        ) from None


def _json_scalar(value):
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"not a number, string or None: {type(value).__name__}")


def plain_array(value, what):
    """``value`` as an array that loads without pickle; strings become unicode."""
    array = np.asarray(value)
    if array.dtype == object:
        if not all(isinstance(v, str) for v in array.flat):
            kinds = sorted({type(v).__name__ for v in array.flat})
            raise TypeError(
                f"{what} is an object array holding {', '.join(kinds)}; only numbers, "
                "booleans and strings can be saved (anything else would need pickle)."
            )
        array = array.astype(str)
    if array.dtype.kind not in "biufcSU":
        raise TypeError(f"{what} has dtype {array.dtype}, which cannot be saved without pickle.")
    return array


def _encode_label_binarizer(binarizer):
    return {
        "y_type_": binarizer.y_type_,
        "sparse_input_": bool(binarizer.sparse_input_),
        "neg_label": _json_scalar(binarizer.neg_label),
        "pos_label": _json_scalar(binarizer.pos_label),
        "sparse_output": bool(binarizer.sparse_output),
    }


def decode_model(meta, arrays):
    classes = _classes()
    if meta.get("class") not in classes:
        raise ModelFileError(
            f"unknown estimator class {meta.get('class')!r}; expected one of {sorted(classes)}."
        )
    cls = classes[meta["class"]]
    params = {key: decode_value(code) for key, code in meta["params"].items()}
    unknown = sorted(set(params) - set(cls().get_params()))
    if unknown:
        raise ModelFileError(f"{cls.__name__} has no parameters {unknown}.")
    model = cls(**params)
    for key, code in meta["attributes"].items():
        if not _ATTRIBUTE_NAME.match(key) or key in params:
            raise ModelFileError(f"invalid attribute name {key!r}.")
        setattr(model, key, _decode_attribute(code, arrays))
    missing = [key for key in _REQUIRED if not hasattr(model, key)]
    if missing:
        raise ModelFileError(f"the fitted attributes {missing} are missing.")
    _check_network(model)
    if is_classifier(model):
        model._label_binarizer = _decode_label_binarizer(meta["label_binarizer"], model.classes_)
    return model


def _decode_attribute(code, arrays):
    if "array" in code:
        array = arrays[code["array"]]
        return array.astype(object) if code.get("object") else array
    if "arrays" in code:
        return [arrays[name] for name in code["arrays"]]
    return decode_value(code)


def decode_value(code):
    if "numpy" in code:
        return np.dtype(code["numpy"]).type(code["value"])
    if "tuple" in code:
        return tuple(code["tuple"])
    if "list" in code:
        return list(code["list"])
    if "dict" in code:
        return dict(code["dict"])
    return code["value"]


def _check_network(model):
    """Shapes and codes consistent with each other: the kernels trust them blindly."""
    from fastnn import _codes as C

    sizes, codes = model._sizes, model._codes
    if sizes.ndim != 1 or sizes.dtype.kind not in "iu" or sizes.shape[0] < 2 or sizes.min() < 1:
        raise ModelFileError(f"invalid layer sizes {sizes!r}.")
    n = sizes.shape[0] - 1
    if len(model.coefs_) != n or len(model.intercepts_) != n or model.n_layers_ != n + 1:
        raise ModelFileError(f"{len(model.coefs_)} weight matrices for {n + 1} layers.")
    dtype = model.coefs_[0].dtype
    for i, (W, b) in enumerate(zip(model.coefs_, model.intercepts_)):
        shapes = (W.shape, b.shape)
        if shapes != ((sizes[i], sizes[i + 1]), (sizes[i + 1],)):
            raise ModelFileError(f"layer {i} has weight and bias shapes {shapes}.")
        if W.dtype != dtype or b.dtype != dtype or dtype.kind != "f":
            raise ModelFileError(f"layer {i} has dtypes {W.dtype}, {b.dtype}; expected {dtype}.")
    if model.n_features_in_ != sizes[0] or model.n_outputs_ != sizes[-1]:
        raise ModelFileError("n_features_in_ and n_outputs_ disagree with the layer sizes.")
    if (
        codes.ndim != 1
        or codes.dtype != np.int64
        or codes.shape[0] <= max(C.HIDDEN, C.OUTPUT, C.SOLVER)
        or codes[C.HIDDEN] not in C.ACTIVATIONS.values()
        or C.OUTPUT_ACTIVATION.get(int(codes[C.OUTPUT])) != model.out_activation_
        or codes[C.SOLVER] not in C.SOLVERS.values()
    ):
        raise ModelFileError(f"invalid kernel codes {codes!r} for {model.out_activation_!r}.")


def _decode_label_binarizer(saved, classes):
    """A LabelBinarizer fitted on ``classes`` (an indicator matrix for multilabel)."""
    binarizer = LabelBinarizer(
        neg_label=saved["neg_label"],
        pos_label=saved["pos_label"],
        sparse_output=saved["sparse_output"],
    )
    if saved["y_type_"] == "multilabel-indicator":
        # Every label once, and an empty row: unambiguously a label-indicator matrix.
        binarizer.fit(np.vstack([np.eye(len(classes), dtype=int), np.zeros(len(classes), int)]))
    else:
        binarizer.fit(classes)
    if binarizer.y_type_ != saved["y_type_"] or not np.array_equal(binarizer.classes_, classes):
        raise ModelFileError(
            f"classes_ {classes!r} do not give the saved target type {saved['y_type_']!r}."
        )
    binarizer.classes_ = classes  # the saved array itself, dtype included
    binarizer.sparse_input_ = saved["sparse_input_"]
    return binarizer
