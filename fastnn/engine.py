"""The two engines and what both drivers hand them.

One engine or the other does the math: :mod:`fastnn.kernels` (``backend="numba"``) or
:mod:`fastnn.reference` (``backend="numpy"``). Both receive exactly the same arrays. The
drivers that run a fit are :mod:`fastnn.stochastic` (sgd and the Adam family, epoch by
epoch) and :mod:`fastnn.lbfgs` (SciPy's L-BFGS-B on the full-batch loss); this module
holds what they share: the initial weights, the arrays the kernels take, prediction,
the user's callbacks and the warning a divergence raises.
"""

import contextlib

import numpy as np
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning

from fastnn import kernels, reference
from fastnn._blas_threads import fit_blas_threads
from fastnn._workers import fit_workers, start_helper
from fastnn.kernels import sparse
from fastnn.kernels.dense import PREDICT_BLOCK, predict_rows
from fastnn.layout import flat_base, n_params, pack, unpack

BACKENDS = {"numba": kernels, "numpy": reference}


class DivergenceWarning(ConvergenceWarning):
    """The loss became NaN or infinite; training stopped and finite weights were kept."""


# The numba engine predicts on two threads, each half of the rows (split between two
# blocks of kernels.dense.PREDICT_BLOCK rows, so that the bits do not depend on it),
# from TWO_THREADS_MIN_WORK rows x parameters. Waking the second thread costs about
# 0.1 ms. Measured on 2 cores, float64, medians of 5 (one thread / two): 20-64-64-2
# (5,634 parameters), 1,024 rows 267 / 277 us, 2,048 rows 465 / 382 us, 8,192 rows
# 1,674 / 972 us; 20-16-2, 8,192 rows (2.9 M) 226 / 239 us.
TWO_THREADS_MIN_WORK = 8_000_000


# Parameters a prediction packs into a new flat vector at most: a larger model is read
# from the vector its coefs_ are views of, when they are (layout.flat_base, 10 to 20 us
# of checks). Packing a first layer of 50,000 x 100 weights took 4 ms, most of a one-row
# prediction; packing 5,634 parameters takes a few microseconds, less than the checks.
PACK_MAX = 65_536


def parameters(est, dtype):
    """``est``'s parameters as one flat vector of ``dtype``: the vector ``coefs_`` and
    ``intercepts_`` are views of if there is one (a large model), else a new one."""
    base = est.coefs_[0].base
    if isinstance(base, np.ndarray) and base.size > PACK_MAX:
        theta = flat_base(est.coefs_, est.intercepts_, dtype)
        if theta is not None:
            return theta
    return pack(est.coefs_, est.intercepts_, dtype)


def predict_output(est, X):
    """Output activations for validated ``X`` of the fitted dtype: a contiguous array,
    or a CSR matrix."""
    theta = parameters(est, X.dtype)
    network = (est._sizes, est._codes)
    X = kernel_input(X, est.backend)
    if est.backend == "numpy":
        return reference.predict(X, network, theta)
    out = np.empty((X[0].shape[0] - 1 if isinstance(X, tuple) else X.shape[0], est._sizes[-1]),
                   dtype=theta.dtype)  # fmt: skip
    if isinstance(X, tuple):  # sparse: one thread (BLAS on one too, for several blocks)
        if out.shape[0] <= PREDICT_BLOCK:
            sparse.predict_rows(X, network, theta, out)
        else:
            with fit_blas_threads():
                sparse.predict_rows(X, network, theta, out)
        return out
    block = PREDICT_BLOCK
    if X.shape[0] <= block:  # one block: BLAS as the caller set it, no limit to set
        predict_rows(X, network, theta, out)
        return out
    # Several blocks: BLAS on one thread, as in a fit (fastnn/_blas_threads.py; the
    # limit is process-wide while it lasts, and setting it costs about 5 us).
    with fit_blas_threads():
        if X.shape[0] * theta.shape[0] < TWO_THREADS_MIN_WORK or fit_workers() < 2:
            predict_rows(X, network, theta, out)
        else:
            half = (X.shape[0] // 2 + block - 1) // block * block  # a block boundary
            wait = start_helper(predict_rows, (X[half:], network, theta, out[half:]))
            try:
                predict_rows(X[:half], network, theta, out[:half])
            except BaseException:
                with contextlib.suppress(BaseException):  # this thread's error wins
                    wait()
                raise
            wait()
    return out


def kernel_input(X, backend, training=False):
    """``X`` as the engine ``backend`` takes it. Dense: :func:`kernel_array`. A sparse
    matrix (validated: CSR or CSC of the fit's dtype): a CSR matrix for the numpy
    engine, whose products are SciPy's; for the numba engine, its CSR arrays
    ``(indptr, indices, values)`` as int64, int32 and the fit's dtype, the types its
    kernels are compiled for (:mod:`fastnn.kernels.sparse`), and with ``training`` a
    fourth, the epoch kernel's map of a batch's columns (two int64 entries a column,
    all -1). Of a CSR matrix validated in the fit's dtype, only ``indptr`` (one entry a
    row) and, where they are int64, ``indices`` are copied (CSC input was converted,
    and so copied, before)."""
    if not scipy.sparse.issparse(X):
        return kernel_array(X)
    X = X.tocsr()
    if backend == "numpy":
        return X
    if X.shape[1] > np.iinfo(np.int32).max:
        raise ValueError(f"sparse X has {X.shape[1]} columns; at most 2**31 - 1 are supported.")
    indptr = np.ascontiguousarray(X.indptr, dtype=np.int64)
    indices = kernel_array(np.asarray(X.indices, dtype=np.int32))
    if training:
        columns = np.full(2 * X.shape[1], -1, dtype=np.int64)
        return indptr, indices, kernel_array(X.data), columns
    return indptr, indices, kernel_array(X.data)


def kernel_array(a):
    """``a`` as the kernels were compiled for it: C-contiguous, aligned and writable.

    Numba compiles a kernel per argument type, and a read-only array (a one-column
    pandas frame's values, a memory-mapped file) is a type of its own: it would compile
    in front of the user, where the compiled code shipped with fastnn has the writable
    kind (:mod:`fastnn._cache`). Such arrays are copied instead; the kernels never
    write to ``X`` or the weights.
    """
    if a.flags.c_contiguous and a.flags.aligned and a.flags.writeable:
        return a
    return np.array(a, order="C")


# Initial weights are drawn this many at a time (see new_parameters).
DRAW_BLOCK = 1 << 16


def new_parameters(est, dtype, random_state=None):
    """Glorot-uniform initial weights, drawing what scikit-learn's ``_init_coef`` draws:
    for each layer, ``W`` then ``b`` from ``U(-r, r)`` with ``r = sqrt(6 / (in + out))``
    (``2`` instead of ``6`` for logistic hidden units), in float64, then cast. They are
    views of one flat vector in :mod:`fastnn.layout` order, which a fit then trains in
    place (:func:`fastnn.stochastic.fit_stochastic`). ``random_state`` defaults to
    ``est``'s."""
    random_state = est._random_state if random_state is None else random_state
    factor = 2.0 if est.activation == "logistic" else 6.0
    theta = np.empty(n_params(est._sizes), dtype=dtype)
    coefs, intercepts = unpack(theta, est._sizes)
    for W, b in zip(coefs, intercepts):
        fan_in, fan_out = W.shape
        bound = np.sqrt(factor / (fan_in + fan_out))
        # By blocks of rows: the same draws in the same order as one call (one double
        # each, row by row), without a float64 matrix and its temporaries the size of
        # W (three of them inside uniform).
        rows = max(1, DRAW_BLOCK // fan_out)
        for r0 in range(0, fan_in, rows):
            r1 = min(fan_in, r0 + rows)
            W[r0:r1] = random_state.uniform(-bound, bound, (r1 - r0, fan_out))
        b[...] = random_state.uniform(-bound, bound, fan_out)
    return coefs, intercepts


def user_callbacks(est):
    """The user's callbacks as a list (``callbacks`` may be one callable or several)."""
    if est.callbacks is None:
        return []
    if callable(est.callbacks):
        return [est.callbacks]
    return list(est.callbacks)
