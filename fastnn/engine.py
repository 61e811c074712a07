"""The two engines and what both drivers hand them.

One engine or the other does the math: :mod:`fastnn.kernels` (``backend="numba"``) or
:mod:`fastnn.reference` (``backend="numpy"``). Both receive exactly the same arrays. The
drivers that run a fit are :mod:`fastnn.stochastic` (sgd and the Adam family, epoch by
epoch) and :mod:`fastnn.lbfgs` (SciPy's L-BFGS-B on the full-batch loss); this module
holds what they share: the initial weights, the arrays the kernels take, prediction,
the user's callbacks and the warning a divergence raises.
"""

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fastnn import kernels, reference
from fastnn.layout import pack

BACKENDS = {"numba": kernels, "numpy": reference}


class DivergenceWarning(ConvergenceWarning):
    """The loss became NaN or infinite; training stopped and finite weights were kept."""


def predict_output(est, X):
    """Output activations for validated, contiguous ``X`` of the fitted dtype."""
    theta = pack(est.coefs_, est.intercepts_, X.dtype)
    return BACKENDS[est.backend].predict(kernel_array(X), (est._sizes, est._codes), theta)


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


def new_parameters(est, dtype):
    """Glorot-uniform initial weights, drawing what scikit-learn's ``_init_coef`` draws:
    for each layer, ``W`` then ``b`` from ``U(-r, r)`` with ``r = sqrt(6 / (in + out))``
    (``2`` instead of ``6`` for logistic hidden units), in float64, then cast."""
    factor = 2.0 if est.activation == "logistic" else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(est._sizes[:-1], est._sizes[1:]):
        bound = np.sqrt(factor / (fan_in + fan_out))
        W = est._random_state.uniform(-bound, bound, (int(fan_in), int(fan_out)))
        b = est._random_state.uniform(-bound, bound, int(fan_out))
        coefs.append(W.astype(dtype, copy=False))
        intercepts.append(b.astype(dtype, copy=False))
    return coefs, intercepts


def user_callbacks(est):
    """The user's callbacks as a list (``callbacks`` may be one callable or several)."""
    if est.callbacks is None:
        return []
    if callable(est.callbacks):
        return [est.callbacks]
    return list(est.callbacks)
