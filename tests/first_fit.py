"""First fits in a new process, for tests/test_cache.py: ``python first_fit.py NAME ...``
runs the fits each NAME stands for and prints one JSON object: where each kernel came
from (shipped, user cache, compiled now), and the SHA-256 of each NAME's results, to
compare bits with the same fits run elsewhere.

``--as-reader`` takes from root its power to write past file permissions, and keeps
its power to read past them (a Python installed in root's home folder stays readable):
a read-only install is to be tested, and root may otherwise write anywhere.
"""

import ctypes
import gc
import hashlib
import json
import os
import sys
import warnings

import numpy as np

# The fits each name stands for, as arguments to VARIANTS' functions below.
ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "leaky_relu")
SOLVERS = ("sgd", "adam", "adamw", "rmsprop", "lbfgs")
LOSSES = ("squared_error", "poisson", "huber", "absolute_error")


def _data():
    rng = np.random.RandomState(0)
    X = rng.rand(96, 3)
    return X, (X[:, 0] > 0.5).astype(int), rng.randint(0, 3, 96), rng.rand(96), rng


def xor():
    """One small adam fit and its predictions: the kernels a first fit loads."""
    from fastnn import MLPClassifier

    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    model = MLPClassifier((4,), max_iter=5, random_state=0).fit(X, [0, 1, 1, 0])
    return [np.array(model.loss_curve_), model.predict_proba(X)]


def every_setting():
    """Each dtype, solver, activation, loss, worker count and kernel scheme, dropout,
    early stopping, sample weights, and inputs of other layouts (read-only, Fortran
    order, a one-column pandas frame)."""
    import pandas as pd

    from fastnn import MLPClassifier, MLPRegressor

    X, y, y3, yr, rng = _data()
    Xw = rng.rand(256, 2)
    yw = (Xw[:, 0] > 0.5).astype(int)
    out = []

    def keep(model, X_pred):
        out.extend([np.array(model.loss_curve_ if model.solver != "lbfgs" else [model.loss_])])
        out.append(model.predict(X_pred))

    for dtype in ("float64", "float32"):
        kw = {"max_iter": 2, "random_state": 0, "dtype": dtype}
        for solver in SOLVERS:
            for activation in ACTIVATIONS:
                keep(MLPClassifier((5,), activation=activation, solver=solver, **kw).fit(X, y), X)
        keep(MLPClassifier((5,), **kw).fit(X, y3), X)
        for loss in LOSSES:
            keep(MLPRegressor(hidden_layer_sizes=(5,), loss=loss, **kw).fit(X, yr), X)
        keep(MLPRegressor(hidden_layer_sizes=(5,), **kw).fit(X, np.c_[yr, yr]), X)
        keep(MLPClassifier((5,), early_stopping=True, **{**kw, "max_iter": 3}).fit(X, y), X)
        keep(MLPClassifier((5,), dropout=0.2, **kw).fit(X, y), X)
        keep(MLPClassifier((5,), **kw).fit(X, y, sample_weight=rng.rand(len(y))), X)
        keep(MLPClassifier((5,), **kw).partial_fit(X, y, classes=[0, 1]), X)
        # Two blocks of rows per batch (two workers), with and without dropout.
        keep(MLPClassifier((128, 128), batch_size=32, **kw).fit(X, y), X)
        keep(MLPClassifier((128, 128), batch_size=32, dropout=0.1, **kw).fit(X, y), X)
        # The unit split of wide layers (2-512-512-1, batches of 128).
        keep(MLPClassifier((512, 512), batch_size=128, **{**kw, "max_iter": 1}).fit(Xw, yw), Xw)
        keep(MLPClassifier((5,), **kw).fit(np.asfortranarray(X), y), np.asfortranarray(X))
        X_read_only = X.astype(dtype)
        X_read_only.flags.writeable = False
        keep(MLPClassifier((5,), **kw).fit(X_read_only, y), X_read_only)
        frame = pd.DataFrame(X[:, :1].astype(dtype), columns=["a"])
        weights = pd.Series(rng.rand(len(y)))
        keep(MLPClassifier((5,), **kw).fit(frame, pd.Series(y), sample_weight=weights), frame)
    return out


VARIANTS = {"xor": xor, "every_setting": every_setting}


def digest(arrays):
    """SHA-256 of the arrays' bytes: equal digests, equal bits."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + a.tobytes())
    return h.hexdigest()


def run(names):
    """``{name: digest}`` of each named variant's results (the estimators' warnings
    silenced)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        return {name: digest(VARIANTS[name]()) for name in names}


def _compiled_signatures():
    """Every fastnn dispatcher's compiles in this process, as Numba counted them."""
    from numba.core.registry import CPUDispatcher

    return sorted(
        f"{d.py_func.__module__}.{d.__name__}{tuple(sig)}"
        for d in gc.get_objects()
        if isinstance(d, CPUDispatcher) and d.py_func.__module__.startswith("fastnn")
        for sig in d._cache_misses
    )


def _drop_write_override():
    """Clear CAP_DAC_OVERRIDE and CAP_FOWNER from this thread's capabilities (see
    capabilities(7)); threads started later inherit the cut. CAP_DAC_READ_SEARCH stays."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]

    libc = ctypes.CDLL(None, use_errno=True)
    header, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    cut = ~((1 << 1) | (1 << 3)) & 0xFFFFFFFF  # CAP_DAC_OVERRIDE, CAP_FOWNER
    data[0].effective &= cut
    data[0].permitted &= cut
    data[0].inheritable &= cut
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def _can_write_into(folder):
    try:
        with open(os.path.join(folder, "probe.tmp"), "w"):
            pass
    except OSError:
        return False
    os.remove(os.path.join(folder, "probe.tmp"))
    return True


def main(argv):
    import pandas  # noqa: F401  (imported before dropping privileges)
    import scipy.optimize  # noqa: F401
    import sklearn  # noqa: F401

    import fastnn
    from fastnn import _jit

    if "--as-reader" in argv:
        argv.remove("--as-reader")
        _drop_write_override()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = run(argv)
    store = _jit.STORE
    from numba.core.registry import cpu_target

    _, reason, _ = store.shipped(cpu_target.target_context.codegen())
    print(json.dumps({
        "results": results,
        "loaded": dict(store.loaded),
        "compiled": store.compiled,
        "events": store.events,
        "numba_compiled": _compiled_signatures(),
        "skipped": store.skipped,
        "shipped": reason,
        "unsaved": store.unsaved,
        "warnings": [str(w.message) for w in caught],
        "user_dir": store.user_dir,
        "package_writable": _can_write_into(os.path.dirname(fastnn.__file__)),
    }))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
