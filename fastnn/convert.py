"""Conversion to and from scikit-learn's ``MLPClassifier`` and ``MLPRegressor``.

:func:`to_sklearn` gives tools that check ``isinstance`` (explainers, exporters, model
registries) a fitted scikit-learn estimator with fastnn's weights; :func:`from_sklearn`
brings a fitted scikit-learn model into fastnn, to continue training it there
(``partial_fit`` or ``warm_start``) or to predict faster.

A converted model has the same weights, bit for bit, and so the same predictions. What
only training uses may have no counterpart on the other side (fastnn's ``adamw``
solver, ``dropout`` or ``class_weight``; scikit-learn's optimizer state): such
parameters take the other library's default, with a warning that names them, and
training a converted model further starts a new optimizer, as scikit-learn's
``warm_start`` does (a fit continued in fastnn gives scikit-learn's loss curve).
"""

import warnings
from copy import deepcopy

import numpy as np
import sklearn
from sklearn.base import is_classifier

from fastnn import labels
from fastnn.estimators import MLPClassifier, MLPRegressor
from fastnn.layout import pack, unpack

# The values of scikit-learn's parameters that scikit-learn accepts, where fastnn
# accepts more. A hidden activation outside this set changes the predictions: it is
# refused. The others only shape training: they take scikit-learn's default.
SKLEARN_ACTIVATIONS = frozenset({"identity", "logistic", "tanh", "relu"})
SKLEARN_OPTIONS = {
    "solver": frozenset({"lbfgs", "sgd", "adam"}),
    "learning_rate": frozenset({"constant", "invscaling", "adaptive"}),
    "loss": frozenset({"squared_error", "poisson"}),
}
# The output activations scikit-learn's forward pass knows ('exp' with its Poisson
# loss, from scikit-learn 1.7).
SKLEARN_VERSION = tuple(int(part) for part in sklearn.__version__.split(".")[:2])
SKLEARN_OUTPUTS = frozenset(
    {"identity", "logistic", "softmax", *(["exp"] if SKLEARN_VERSION >= (1, 7) else [])}
)

# Fitted attributes that both libraries have and that mean the same.
SHARED_ATTRIBUTES = (
    "n_iter_",
    "t_",
    "loss_",
    "best_loss_",
    "loss_curve_",
    "validation_scores_",
    "best_validation_score_",
    "n_features_in_",
    "feature_names_in_",
    "n_outputs_",
    "n_layers_",
    "out_activation_",
)


def _sklearn_classes():
    """scikit-learn's MLP classes, imported on first use: ``import fastnn`` does not
    pay for ``sklearn.neural_network`` (about 30 ms)."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    return MLPClassifier, MLPRegressor


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return list(value)
    return value


def _fitted(model, kind):
    """Refuse what is not a fitted model of ``kind`` (a tuple of classes)."""
    if not isinstance(model, kind):
        names = " or ".join(f"{cls.__module__}.{cls.__name__}" for cls in kind)
        raise TypeError(f"expected a {names}, got {type(model).__name__}.")
    if not hasattr(model, "coefs_"):
        raise ValueError(
            f"This {type(model).__name__} instance is not fitted yet: call 'fit' before "
            "converting it."
        )


def _warn_unmatched(unmatched, source, target):
    if unmatched:
        listed = ", ".join(f"{key}={value!r}" for key, value in unmatched.items())
        warnings.warn(
            f"{target} has no counterpart of {source}'s {listed}: they shape training, "
            f"not predictions, and the converted model takes {target}'s defaults. "
            "Training it further will differ.",
            UserWarning,
            stacklevel=3,
        )


def to_sklearn(model):
    """A fitted scikit-learn estimator with the weights of a fitted fastnn model.

    Parameters
    ----------
    model : fastnn.MLPClassifier or fastnn.MLPRegressor
        The fitted model.

    Returns
    -------
    sklearn.neural_network.MLPClassifier or sklearn.neural_network.MLPRegressor
        A fitted estimator with copies of ``coefs_``, ``intercepts_`` and the fitted
        attributes; ``predict`` and ``predict_proba`` give fastnn's results.

    Raises
    ------
    TypeError
        If ``model`` is not a fastnn estimator.
    ValueError
        If it is not fitted, or its hidden activation has no scikit-learn counterpart
        (``leaky_relu``), which would change the predictions.

    Warns
    -----
    UserWarning
        Naming the parameters that have no scikit-learn counterpart (``dropout``,
        ``class_weight``, solver ``'adamw'`` ...): they take scikit-learn's defaults.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> import fastnn
    >>> X, y = make_moons(200, random_state=0)
    >>> model = fastnn.MLPClassifier(max_iter=20, random_state=0).fit(X, y)
    >>> sk = fastnn.to_sklearn(model)
    >>> bool((sk.predict_proba(X) == model.predict_proba(X)).all())
    True
    """
    _fitted(model, (MLPClassifier, MLPRegressor))
    if model.activation not in SKLEARN_ACTIVATIONS:
        raise ValueError(
            f"scikit-learn's MLP has no activation={model.activation!r} (it has "
            f"{sorted(SKLEARN_ACTIVATIONS)}): its predictions would differ."
        )
    if model.out_activation_ not in SKLEARN_OUTPUTS:
        raise ValueError(
            f"scikit-learn {sklearn.__version__}'s MLP has no output activation "
            f"{model.out_activation_!r}."
        )
    SkMLPClassifier, SkMLPRegressor = _sklearn_classes()
    target = SkMLPClassifier if is_classifier(model) else SkMLPRegressor
    defaults = target().get_params()
    params, unmatched = {}, {}
    for key, value in model.get_params().items():
        if key not in defaults:
            ours = type(model)().get_params()[key]
            given = isinstance(value, np.ndarray) or value is not ours and value != ours
            if given and key not in ("backend", "dtype"):
                unmatched[key] = value
        elif key in SKLEARN_OPTIONS and value not in SKLEARN_OPTIONS[key]:
            unmatched[key] = value
            params[key] = defaults[key]
        else:
            params[key] = value
    _warn_unmatched(unmatched, "fastnn", "scikit-learn")
    sk = target(**params)
    for key in SHARED_ATTRIBUTES:
        if hasattr(model, key):
            setattr(sk, key, _copy(getattr(model, key)))
    sk.coefs_ = [W.copy() for W in model.coefs_]
    sk.intercepts_ = [b.copy() for b in model.intercepts_]
    if is_classifier(model):
        sk.classes_ = model.classes_.copy()
        # Private attributes of scikit-learn's that its own methods read, which its
        # fit would have set: the binarizer decodes the outputs into labels (skl2onnx
        # reads its target type too) ...
        sk._label_binarizer = deepcopy(model._label_binarizer)
    if hasattr(model, "_no_improvement_count"):
        # ... and a warm start of the stochastic solvers continues the stopping rule
        # from its count and best weights.
        sk._no_improvement_count = model._no_improvement_count
    if hasattr(model, "_best_theta"):  # early stopping's best weights
        best = unpack(model._best_theta.copy(), model._sizes)
        sk._best_coefs, sk._best_intercepts = best
    return sk


def from_sklearn(model, **params):
    """A fitted fastnn estimator with the weights of a fitted scikit-learn MLP.

    Parameters
    ----------
    model : sklearn.neural_network.MLPClassifier or sklearn.neural_network.MLPRegressor
        The fitted model.
    **params
        fastnn parameters to set as well, for example ``backend`` or ``dropout`` for
        further training; with ``dtype``, the weights are cast to it.

    Returns
    -------
    fastnn.MLPClassifier or fastnn.MLPRegressor
        A fitted estimator with copies of the weights and fitted attributes, whose
        predictions are scikit-learn's. ``partial_fit`` or ``fit`` with ``warm_start``
        continue from these weights, with a new optimizer (scikit-learn's optimizer
        state is not carried over).

    Raises
    ------
    TypeError
        If ``model`` is not a scikit-learn MLP.
    ValueError
        If it is not fitted.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from sklearn.neural_network import MLPClassifier
    >>> import fastnn
    >>> X, y = make_moons(200, random_state=0)
    >>> sk = MLPClassifier(max_iter=20, random_state=0).fit(X, y)
    >>> model = fastnn.from_sklearn(sk, warm_start=True)
    >>> bool((model.predict(X) == sk.predict(X)).all())
    True
    """
    _fitted(model, _sklearn_classes())
    target = MLPClassifier if is_classifier(model) else MLPRegressor
    est = target(**{**model.get_params(), **params})
    dtype = np.dtype(est.dtype) if est.dtype is not None else model.coefs_[0].dtype
    hidden = [W.shape[1] for W in model.coefs_[:-1]]
    if is_classifier(model):
        est.classes_ = model.classes_.copy()
        multilabel = model.out_activation_ == "logistic" and model.n_outputs_ > 1
        if multilabel:  # the binarizer learns the indicator matrix's width
            indicator = np.eye(model.n_outputs_, dtype=int)
            est._label_binarizer = labels.label_binarizer(indicator)
        else:
            est._label_binarizer = labels.label_binarizer(model.classes_)
    # fastnn's own set-up of a fitted model (its network codes and training state),
    # whose initial weights are then replaced by scikit-learn's.
    est._random_state = np.random.RandomState(0)
    est._initialize(model.coefs_[0].shape[0], hidden, model.n_outputs_, dtype)
    for key in SHARED_ATTRIBUTES:
        if hasattr(model, key):
            setattr(est, key, _copy(getattr(model, key)))
    est.coefs_ = [np.array(W, dtype=dtype, order="C") for W in model.coefs_]
    est.intercepts_ = [np.array(b, dtype=dtype, order="C") for b in model.intercepts_]
    # The stopping rule's state, which scikit-learn's warm start continues from.
    if hasattr(est, "_no_improvement_count"):
        est._no_improvement_count = getattr(model, "_no_improvement_count", 0)
    if hasattr(est, "_best_theta"):  # early stopping's best weights
        best = (
            getattr(model, "_best_coefs", est.coefs_),
            getattr(model, "_best_intercepts", est.intercepts_),
        )
        est._best_theta = pack(*best, dtype)
    if est.out_activation_ != model.out_activation_:
        raise ValueError(
            f"fastnn's {target.__name__} with loss {getattr(model, 'loss', 'log_loss')!r} "
            f"has output activation {est.out_activation_!r}, scikit-learn's model "
            f"{model.out_activation_!r}."
        )
    return est
