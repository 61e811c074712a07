"""Save a fitted fastnn estimator to one ``.npz`` file, and load it back, without pickle.

The file is a NumPy ``.npz`` archive. Its entry ``fastnn_meta`` is a JSON text (a 0-d
unicode array) holding the format version, the fastnn version, the class name, the
parameters of ``get_params()``, the plain fitted attributes (numbers, strings, lists of
numbers) and the names of the array entries; every other entry is one array (weights,
biases, ``classes_``, ``loss_curve_``-like arrays, ``extra`` arrays). Reading uses
``np.load(..., allow_pickle=False)`` and builds the estimator from a fixed table of
classes, so nothing in a file is ever executed.

What is saved is every fitted attribute of the estimator except two that only training
needs and that do not describe the model: the optimizer's moment vectors (``_optimizer``)
and the random generator (``_random_state``). A loaded model predicts exactly like the
original; ``partial_fit`` or ``warm_start`` continue from its weights, with the optimizer's
moments started afresh.
"""

import contextlib
import json
import os
import re
import secrets
import zipfile

import numpy as np
from sklearn.base import is_classifier
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.validation import check_is_fitted

FORMAT = "fastnn-model"
FORMAT_VERSION = 1
META_KEY = "fastnn_meta"
EXTRA_PREFIX = "extra."

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
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class ModelFileError(ValueError):
    """A file that is not a fastnn model this version can read: corrupt, truncated, from
    another program, holding pickled objects, or written by a newer format."""


def _classes():
    from fastnn.estimators import MLPClassifier, MLPRegressor

    return {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}


# --- saving --------------------------------------------------------------------------


def save(model, path, extra=None):
    """Write a fitted fastnn estimator to ``path``, atomically.

    Parameters
    ----------
    model : MLPClassifier or MLPRegressor
        A fitted estimator.
    path : str or path-like
        The file to write, usually ending in ``.npz`` (no suffix is added). It is written
        to a temporary file in the same directory, then renamed over ``path``: an existing
        file is replaced whole or, if saving fails, left as it was.
    extra : mapping of str to array-like, default=None
        Arrays to store beside the model, such as the scaling fitted with it; each value
        must convert to a non-object NumPy array. :func:`load_with_extra` returns them.

    Raises
    ------
    TypeError
        If ``model`` is not a fastnn estimator, or a parameter, attribute or ``extra``
        value cannot be stored without pickle (such as an object array of non-strings).
    sklearn.exceptions.NotFittedError
        If ``model`` is not fitted.

    Notes
    -----
    Parameters that hold live objects rather than data are saved as ``None`` and listed in
    the file's metadata (``params_saved_as_none``): a ``RandomState`` instance as
    ``random_state`` (training is over; the generator is not part of the model) and
    callables such as ``callbacks``. ``load`` gives them back as ``None``.
    """
    arrays, meta = _encode_model(model)
    meta["extra"] = []
    for name, value in (extra or {}).items():
        if not isinstance(name, str):
            raise TypeError(f"extra keys must be strings; got {name!r}.")
        arrays[EXTRA_PREFIX + name] = _plain_array(value, f"extra[{name!r}]")
        meta["extra"].append(name)
    arrays[META_KEY] = np.array(json.dumps(meta))
    _write_atomically(os.fspath(path), arrays)


def _write_atomically(path, arrays):
    """``np.savez`` into a new file beside ``path``, then ``os.replace`` it onto ``path``."""
    directory, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot save {path}: no directory {directory}")
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
    # os.open with mode 0o666 lets the umask decide the permissions, as for any new file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # also KeyboardInterrupt: never leave the temporary file behind
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _encode_model(model):
    classes = _classes()
    name = type(model).__name__
    if classes.get(name) is not type(model):
        raise TypeError(
            f"fastnn.save stores fastnn's MLPClassifier and MLPRegressor; got {name}. "
            "Use joblib or pickle for other estimators."
        )
    check_is_fitted(model, "coefs_")
    params = model.get_params(deep=False)
    live = sorted(key for key, value in params.items() if _is_live_object(value))
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastnn_version": _fastnn_version(),
        "class": name,
        "params": {
            key: _encode_value(None if key in live else value, f"Parameter {key}")
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
            arrays[key] = _plain_array(value, key)
            meta["attributes"][key] = {"array": key, "object": value.dtype == object}
        elif isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
            names = [f"{key}.{i}" for i in range(len(value))]
            arrays.update({name: _plain_array(v, key) for name, v in zip(names, value)})
            meta["attributes"][key] = {"arrays": names}
        else:
            meta["attributes"][key] = _encode_value(value, f"Fitted attribute {key}")
    return arrays, meta


def _fastnn_version():
    import fastnn

    return fastnn.__version__


def _is_live_object(value):
    """A generator, a callable or a list of callables: state or code, not data."""
    if isinstance(value, (list, tuple)):
        return bool(value) and all(callable(v) for v in value)
    return isinstance(value, (np.random.RandomState, np.random.Generator)) or (
        callable(value) and not isinstance(value, type)
    )


def _encode_value(value, what):
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


def _plain_array(value, what):
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


# --- loading -------------------------------------------------------------------------


def load(path):
    """Read an estimator written by :func:`save`.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    model : MLPClassifier or MLPRegressor
        The fitted estimator; it predicts exactly as the one saved did.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        If the file is not a fastnn model (corrupt, truncated, another program's ``.npz``,
        holding object arrays that would need pickle), or comes from a newer format.
    """
    return load_with_extra(path)[0]


def load_with_extra(path):
    """Read an estimator and the ``extra`` arrays saved with it.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    model : MLPClassifier or MLPRegressor
        The fitted estimator.
    extra : dict of str to ndarray
        The ``extra`` mapping given to :func:`save` (empty if none), as arrays: a scalar
        comes back as a 0-d array, strings as a unicode array.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        If the file is not a fastnn model this version can read.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Model file not found: {path}")
    arrays = _read_arrays(path)
    meta = _read_meta(arrays, path)
    try:
        model = _decode_model(meta, arrays)
        extra = {name: arrays[EXTRA_PREFIX + name] for name in meta.get("extra", [])}
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        if isinstance(exc, ModelFileError):
            raise ModelFileError(f"{path}: {exc}") from None
        raise ModelFileError(
            f"{path} is not a valid fastnn model file: {type(exc).__name__}: {exc}"
        ) from None
    return model, extra


def _read_arrays(path):
    """Every entry of the archive, read without pickle."""
    with open(path, "rb") as f:
        if f.read(4) not in _ZIP_MAGIC:
            raise ModelFileError(f"{path} is not a fastnn model file (not an .npz archive).")
        f.seek(0)
        try:
            with np.load(f, allow_pickle=False) as archive:
                return {key: archive[key] for key in archive.files}
        except ValueError as exc:
            if "pickle" in str(exc) or "Object arrays" in str(exc):
                raise ModelFileError(
                    f"{path} holds object arrays, which only pickle can read; fastnn model "
                    "files never do, and fastnn does not unpickle files."
                ) from None
            raise ModelFileError(f"{path} is corrupt or truncated: {exc}") from None
        except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
            raise ModelFileError(f"{path} is corrupt or truncated: {exc}") from None


def _read_meta(arrays, path):
    if META_KEY not in arrays:
        raise ModelFileError(
            f"{path} is an .npz archive but not a fastnn model file (no {META_KEY!r} entry)."
        )
    entry = arrays[META_KEY]
    try:
        meta = json.loads(str(entry[()])) if entry.dtype.kind == "U" and entry.ndim == 0 else None
    except json.JSONDecodeError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: the {META_KEY!r} entry is not fastnn model metadata.")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path}: invalid format version {version!r}.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {version}, written by fastnn "
            f"{meta.get('fastnn_version', '?')}; this fastnn ({_fastnn_version()}) reads "
            f"format versions up to {FORMAT_VERSION}. Upgrade fastnn to load it."
        )
    return meta


def _decode_model(meta, arrays):
    classes = _classes()
    if meta.get("class") not in classes:
        raise ModelFileError(
            f"unknown estimator class {meta.get('class')!r}; expected one of {sorted(classes)}."
        )
    cls = classes[meta["class"]]
    params = {key: _decode_value(code) for key, code in meta["params"].items()}
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
    return _decode_value(code)


def _decode_value(code):
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
