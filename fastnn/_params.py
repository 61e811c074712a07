"""Checks of constructor parameters, with messages that name the parameter and its range.

:data:`CONSTRAINTS` maps each parameter to what it may be: an :class:`Interval`, one of
:class:`Options`, a :class:`Boolean`, and so on, or :class:`AnyOf` several of them.
:func:`check_params` walks the table in order; the first value a constraint refuses
raises ``ValueError("The '<name>' parameter of <estimator> must be <constraint>. Got
<value> instead.")``. Two parameters are checked where more is known: ``dropout``
(:func:`dropout_rates`, one rate per hidden layer) and the classifier's ``class_weight``
(:func:`fastnn.labels.class_sample_weights`, against the classes).

Run at the start of ``fit``/``partial_fit`` (never in ``__init__`` or ``set_params``),
as scikit-learn's estimators do.
"""

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from fastnn import _codes as C


# The exact types first: the checks run at every fit, and an isinstance check against
# the numbers ABCs costs ten times as much (0.3 us).
def _is_int(value):
    return type(value) is int or (isinstance(value, Integral) and not isinstance(value, bool))


def _is_real(value):
    return type(value) in (float, int) or (isinstance(value, Real) and not isinstance(value, bool))


# --- constraints: each says whether it accepts a value, and describes what it accepts ---


@dataclass(frozen=True)
class Interval:
    """An int (``kind=Integral``) or a finite float (``kind=Real``) in an interval.

    Attributes
    ----------
    kind : {numbers.Integral, numbers.Real}
        Ints only, or any real number (ints included); booleans are neither.
    low : int or float
        The lower end.
    high : int or float or None
        The upper end; ``None`` is an interval open at infinity (infinity refused).
    closed : {'left', 'right', 'both', 'neither'}
        Which ends belong to the interval.
    """

    kind: type
    low: float
    high: float = None
    closed: str = "left"

    def is_satisfied_by(self, value):
        """Whether ``value`` lies in the interval (see :class:`Interval`)."""
        if self.kind is Integral:
            if not _is_int(value):
                return False
        elif not (_is_real(value) and -math.inf < value < math.inf):  # finite
            return False
        above = value >= self.low if self.closed in ("left", "both") else value > self.low
        if self.high is None:
            return above
        below = value <= self.high if self.closed in ("right", "both") else value < self.high
        return above and below

    @property
    def description(self):
        """``'a float in the range [0, 1)'``."""
        left = "[" if self.closed in ("left", "both") else "("
        right = "]" if self.closed in ("right", "both") else ")"
        high = "inf" if self.high is None else self.high
        what = "an int" if self.kind is Integral else "a float"
        return f"{what} in the range {left}{self.low}, {high}{right}"


@dataclass(frozen=True)
class Options:
    """One of a set of strings.

    Attributes
    ----------
    options : frozenset of str
        The strings accepted.
    """

    options: frozenset

    def is_satisfied_by(self, value):
        """Whether ``value`` is one of the strings."""
        return isinstance(value, str) and value in self.options

    @property
    def description(self):
        """``"one of {'a', 'b'}"``, sorted."""
        return f"one of {{{', '.join(repr(o) for o in sorted(self.options))}}}"


@dataclass(frozen=True)
class Constant:
    """One value: ``None``, a string, or a number such as ``np.inf``.

    Attributes
    ----------
    value : None, str or float
        The value accepted (a string or a number equal to it; ``None`` itself).
    text : str, default=None
        How the message names it; default ``repr(value)``.
    """

    value: object
    text: str = None

    def is_satisfied_by(self, value):
        """Whether ``value`` is the constant."""
        if self.value is None:
            return value is None
        if isinstance(self.value, str):
            return isinstance(value, str) and value == self.value
        return _is_real(value) and value == self.value

    @property
    def description(self):
        """``'None'``, ``"'auto'"``, or :attr:`text`."""
        return repr(self.value) if self.text is None else self.text


@dataclass(frozen=True)
class Boolean:
    """A Python or NumPy bool."""

    def is_satisfied_by(self, value):
        """Whether ``value`` is a bool."""
        return isinstance(value, (bool, np.bool_))

    @property
    def description(self):
        """``'a bool'``."""
        return "a bool"


@dataclass(frozen=True)
class Instance:
    """An instance of a class.

    Attributes
    ----------
    cls : type
        The class.
    text : str
        How the message names it.
    """

    cls: type
    text: str

    def is_satisfied_by(self, value):
        """Whether ``value`` is an instance of :attr:`cls`."""
        return isinstance(value, self.cls)

    @property
    def description(self):
        """:attr:`text`."""
        return self.text


@dataclass(frozen=True)
class Callable:
    """A callable."""

    def is_satisfied_by(self, value):
        """Whether ``value`` is callable."""
        return callable(value)

    @property
    def description(self):
        """``'a callable'``."""
        return "a callable"


@dataclass(frozen=True)
class CallableList:
    """A list (any iterable) of callables."""

    def is_satisfied_by(self, value):
        """Whether ``value`` is an iterable of callables only."""
        return hasattr(value, "__iter__") and all(callable(c) for c in value)

    @property
    def description(self):
        """``'a list of callables'``."""
        return "a list of callables"


@dataclass(frozen=True)
class FloatDtype:
    """What ``np.dtype`` turns into one floating dtype.

    Attributes
    ----------
    name : {'float32', 'float64'}
        The dtype.
    """

    name: str

    def is_satisfied_by(self, value):
        """Whether ``np.dtype(value)`` is the dtype."""
        try:
            return np.dtype(value) == np.dtype(self.name)
        except TypeError:
            return False

    @property
    def description(self):
        """``"'float32'"``."""
        return repr(self.name)


@dataclass(frozen=True)
class LayerSizes:
    """An int >= 1, or a sequence of them (the hidden layer sizes)."""

    def is_satisfied_by(self, value):
        """Whether ``value`` is an int >= 1 or an iterable of them."""
        sizes = list(value) if hasattr(value, "__iter__") else [value]
        return all(_is_int(s) and s >= 1 for s in sizes)

    @property
    def description(self):
        """``'an int >= 1 or a sequence of ints >= 1'``."""
        return "an int >= 1 or a sequence of ints >= 1"


class AnyOf:
    """Any of several constraints: ``AnyOf(Constant(None), Boolean())``.

    Parameters
    ----------
    *constraints : constraint
        The constraints, in the order the message names them.
    """

    def __init__(self, *constraints):
        self.constraints = constraints

    def __repr__(self):
        return f"AnyOf{self.constraints!r}"

    def is_satisfied_by(self, value):
        """Whether one of the constraints accepts ``value``."""
        return any(c.is_satisfied_by(value) for c in self.constraints)

    @property
    def description(self):
        """``'None, a callable or a list of callables'``."""
        *first, last = [c.description for c in self.constraints]
        return f"{', '.join(first)} or {last}" if first else last


# --- the table -----------------------------------------------------------------------

_AT_LEAST_0 = Interval(Real, 0, None, closed="left")
_ABOVE_0 = Interval(Real, 0, None, closed="neither")
_INT_AT_LEAST_1 = Interval(Integral, 1, None, closed="left")
_FRACTION = Interval(Real, 0, 1, closed="left")

#: Every parameter :func:`check_params` checks, in the order it checks them. ``loss`` is
#: the regressor's only.
CONSTRAINTS = {
    "loss": Options(frozenset(C.REGRESSION_LOSSES)),
    "hidden_layer_sizes": LayerSizes(),
    "activation": Options(frozenset(C.ACTIVATIONS)),
    "solver": Options(frozenset({"lbfgs", *C.SOLVERS})),
    "alpha": _AT_LEAST_0,
    "batch_size": AnyOf(Constant("auto"), _INT_AT_LEAST_1),
    "learning_rate": Options(frozenset(C.SCHEDULES)),
    "learning_rate_init": _ABOVE_0,
    "power_t": _AT_LEAST_0,
    "max_iter": _INT_AT_LEAST_1,
    "shuffle": Boolean(),
    "random_state": AnyOf(
        Constant(None),
        Interval(Integral, 0, 2**32 - 1, closed="both"),
        Instance(np.random.RandomState, "a numpy.random.RandomState instance"),
    ),
    "tol": _AT_LEAST_0,
    "verbose": AnyOf(Boolean(), Interval(Integral, 0, None, closed="left")),
    "warm_start": Boolean(),
    "momentum": Interval(Real, 0, 1, closed="both"),
    "nesterovs_momentum": Boolean(),
    "early_stopping": Boolean(),
    "validation_fraction": _FRACTION,
    "beta_1": _FRACTION,
    "beta_2": _FRACTION,
    "epsilon": _ABOVE_0,
    "n_iter_no_change": AnyOf(_INT_AT_LEAST_1, Constant(np.inf, text="np.inf")),
    "max_fun": _INT_AT_LEAST_1,
    "backend": Options(frozenset({"numba", "numpy"})),
    "callbacks": AnyOf(Constant(None), Callable(), CallableList()),
    "dtype": AnyOf(Constant(None), FloatDtype("float32"), FloatDtype("float64")),
}


def check_value(name, value, constraint, owner):
    """Raise unless ``constraint`` accepts ``value``.

    Parameters
    ----------
    name : str
        The parameter's name.
    value : object
        Its value.
    constraint : constraint
        What it may be (an entry of :data:`CONSTRAINTS`).
    owner : str
        The estimator's class name.

    Raises
    ------
    ValueError
        "The '<name>' parameter of <owner> must be <constraint>. Got <value> instead."
    """
    if not constraint.is_satisfied_by(value):
        _refuse(name, value, constraint, owner)


def _refuse(name, value, constraint, owner):
    raise ValueError(
        f"The '{name}' parameter of {owner} must be {constraint.description}. "
        f"Got {value!r} instead."
    )


def check_params(est):
    """Validate every constructor parameter of :data:`CONSTRAINTS` the estimator has.

    Parameters
    ----------
    est : MLPClassifier or MLPRegressor
        The estimator.

    Raises
    ------
    ValueError
        For the first parameter (in the table's order) whose value is refused.
    """
    owner = type(est).__name__
    for name, constraint in CONSTRAINTS.items():
        if hasattr(est, name):  # "loss": the regressor's only
            check_value(name, getattr(est, name), constraint, owner)


def hidden_layer_sizes(value, owner):
    """The hidden layer sizes as a list of positive ints.

    Parameters
    ----------
    value : int or sequence of int
        The ``hidden_layer_sizes`` parameter.
    owner : str
        The estimator's class name.

    Returns
    -------
    list of int
        One size per hidden layer.
    """
    sizes = list(value) if hasattr(value, "__iter__") else [value]
    constraint = CONSTRAINTS["hidden_layer_sizes"]
    if not constraint.is_satisfied_by(sizes):  # iterates ``value`` once
        _refuse("hidden_layer_sizes", value, constraint, owner)
    return [int(s) for s in sizes]


def dropout_rates(value, n_hidden, owner):
    """One dropout rate per hidden layer: ``None`` is none, a number applies to every
    hidden layer, a sequence gives one rate each; every rate lies in ``[0, 1)``.

    Parameters
    ----------
    value : None, float or sequence of float
        The ``dropout`` parameter.
    n_hidden : int
        The number of hidden layers.
    owner : str
        The estimator's class name.

    Returns
    -------
    list of float
        One rate per hidden layer.
    """
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
