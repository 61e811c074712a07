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
import secrets
import zipfile

import numpy as np

from fastnn.model_codec import (
    FORMAT,
    FORMAT_VERSION,
    ModelFileError,
    decode_model,
    encode_model,
    fastnn_version,
    plain_array,
)

META_KEY = "fastnn_meta"
EXTRA_PREFIX = "extra."
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")

__all__ = ["ModelFileError", "load", "load_with_extra", "save"]

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
    arrays, meta = encode_model(model)
    meta["extra"] = []
    for name, value in (extra or {}).items():
        if not isinstance(name, str):
            raise TypeError(f"extra keys must be strings; got {name!r}.")
        arrays[EXTRA_PREFIX + name] = plain_array(value, f"extra[{name!r}]")
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
        model = decode_model(meta, arrays)
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
            f"{meta.get('fastnn_version', '?')}; this fastnn ({fastnn_version()}) reads "
            f"format versions up to {FORMAT_VERSION}. Upgrade fastnn to load it."
        )
    return meta
