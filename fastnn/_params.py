"""Checks of constructor parameters, with messages that name the parameter and its range.

Run at the start of ``fit``/``partial_fit`` (never in ``__init__`` or ``set_params``),
as scikit-learn's estimators do.
"""

from numbers import Integral, Real

import numpy as np

from fastnn import _codes as C


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, Real) and not isinstance(value, bool)


def _interval(name, value, low, high, closed, kind, owner):
    """Raise unless ``value`` is a number of ``kind`` inside the interval.

    ``high=None`` is an interval open at infinity: infinity itself is refused.
    """
    ok_type = _is_int(value) if kind == "int" else _is_real(value)
    left = "[" if closed in ("left", "both") else "("
    right = "]" if closed in ("right", "both") else ")"
    text = f"{left}{low}, {'inf' if high is None else high}{right}"
    if ok_type and np.isfinite(value):
        above = value >= low if left == "[" else value > low
        below = True if high is None else (value <= high if right == "]" else value < high)
        if above and below:
            return
    what = "an int" if kind == "int" else "a float"
    raise ValueError(
        f"The '{name}' parameter of {owner} must be {what} in the range {text}. "
        f"Got {value!r} instead."
    )


def _options(name, value, options, owner):
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in sorted(options))
        raise ValueError(
            f"The '{name}' parameter of {owner} must be one of {{{listed}}}. Got {value!r} instead."
        )


def _boolean(name, value, owner):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"The '{name}' parameter of {owner} must be a bool. Got {value!r} instead."
        )


def _n_iter_no_change(value, owner):
    """An int >= 1, or ``np.inf`` (never stop for lack of improvement), as scikit-learn."""
    if (_is_int(value) and value >= 1) or (_is_real(value) and value == np.inf):
        return
    raise ValueError(
        f"The 'n_iter_no_change' parameter of {owner} must be an int in the range [1, inf) "
        f"or np.inf. Got {value!r} instead."
    )


def _verbose(value, owner):
    if isinstance(value, (bool, np.bool_)) or (_is_int(value) and value >= 0):
        return
    raise ValueError(
        f"The 'verbose' parameter of {owner} must be a bool or an int in the range [0, inf). "
        f"Got {value!r} instead."
    )


def _random_state(value, owner):
    """None, a seed NumPy accepts, or a ``RandomState`` (as scikit-learn's constraint)."""
    if value is None or isinstance(value, np.random.RandomState):
        return
    if _is_int(value) and 0 <= value <= 2**32 - 1:
        return
    raise ValueError(
        f"The 'random_state' parameter of {owner} must be None, an int in the range "
        f"[0, 4294967295] or a numpy.random.RandomState instance. Got {value!r} instead."
    )


def hidden_layer_sizes(value, owner):
    """The hidden layer sizes as a list of positive ints."""
    sizes = list(value) if hasattr(value, "__iter__") else [value]
    if not all(_is_int(s) and s >= 1 for s in sizes):
        raise ValueError(
            f"The 'hidden_layer_sizes' parameter of {owner} must be an int >= 1 or a sequence "
            f"of ints >= 1. Got {value!r} instead."
        )
    return [int(s) for s in sizes]


def _float_dtype(value):
    try:
        dtype = np.dtype(value)
    except TypeError:
        return None
    return dtype if dtype in (np.float32, np.float64) else None


def check_params(est):
    """Validate every constructor parameter of a fastnn MLP estimator."""
    owner = type(est).__name__
    if hasattr(est, "loss"):  # the regressor's
        _options("loss", est.loss, set(C.REGRESSION_LOSSES), owner)
    hidden_layer_sizes(est.hidden_layer_sizes, owner)
    _options("activation", est.activation, set(C.ACTIVATIONS), owner)
    _options("solver", est.solver, {"lbfgs", *C.SOLVERS}, owner)
    _interval("alpha", est.alpha, 0, None, "left", "float", owner)
    if est.batch_size != "auto":
        if not _is_int(est.batch_size) or est.batch_size < 1:
            raise ValueError(
                f"The 'batch_size' parameter of {owner} must be 'auto' or an int in the range "
                f"[1, inf). Got {est.batch_size!r} instead."
            )
    _options("learning_rate", est.learning_rate, set(C.SCHEDULES), owner)
    _interval("learning_rate_init", est.learning_rate_init, 0, None, "neither", "float", owner)
    _interval("power_t", est.power_t, 0, None, "left", "float", owner)
    _interval("max_iter", est.max_iter, 1, None, "left", "int", owner)
    _boolean("shuffle", est.shuffle, owner)
    _random_state(est.random_state, owner)
    _interval("tol", est.tol, 0, None, "left", "float", owner)
    _verbose(est.verbose, owner)
    _boolean("warm_start", est.warm_start, owner)
    _interval("momentum", est.momentum, 0, 1, "both", "float", owner)
    _boolean("nesterovs_momentum", est.nesterovs_momentum, owner)
    _boolean("early_stopping", est.early_stopping, owner)
    _interval("validation_fraction", est.validation_fraction, 0, 1, "left", "float", owner)
    _interval("beta_1", est.beta_1, 0, 1, "left", "float", owner)
    _interval("beta_2", est.beta_2, 0, 1, "left", "float", owner)
    _interval("epsilon", est.epsilon, 0, None, "neither", "float", owner)
    _n_iter_no_change(est.n_iter_no_change, owner)
    _interval("max_fun", est.max_fun, 1, None, "left", "int", owner)
    _options("backend", est.backend, {"numba", "numpy"}, owner)
    callbacks = est.callbacks
    if callbacks is not None and not callable(callbacks):
        if not hasattr(callbacks, "__iter__") or not all(callable(c) for c in callbacks):
            raise ValueError(
                f"The 'callbacks' parameter of {owner} must be None, a callable or a list "
                f"of callables. Got {callbacks!r} instead."
            )
    if est.dtype is not None and _float_dtype(est.dtype) is None:
        raise ValueError(
            f"The 'dtype' parameter of {owner} must be None, 'float32' or 'float64'. "
            f"Got {est.dtype!r} instead."
        )


def dropout_rates(value, n_hidden, owner):
    """One dropout rate per hidden layer: ``None`` is none, a number applies to every
    hidden layer, a sequence gives one rate each; every rate lies in ``[0, 1)``."""
    if value is None:
        return [0.0] * n_hidden
    rates = list(value) if hasattr(value, "__iter__") else [value] * n_hidden
    message = (
        f"The 'dropout' parameter of {owner} must be None, a float in the range [0, 1) or "
        f"a sequence of {n_hidden} such floats (one per hidden layer). Got {value!r} instead."
    )
    if len(rates) != n_hidden or not all(_is_real(r) and 0 <= r < 1 for r in rates):
        raise ValueError(message)
    return [float(r) for r in rates]
