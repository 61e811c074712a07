"""``MLPClassifier`` and ``MLPRegressor``: scikit-learn's API over fastnn's engines.

This module validates input, keeps the fitted attributes scikit-learn users know, and
hands the arithmetic to :mod:`fastnn.engine`. It subclasses only scikit-learn's public
mixins (``BaseEstimator``, ``ClassifierMixin``, ``RegressorMixin``), never its MLP.
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from fastnn import _codes as C
from fastnn import _params, engine
from fastnn.layout import layer_sizes, pack


def _has_stochastic_solver(est):
    if est.solver not in C.SOLVERS:
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {est.solver} is not "
            "stochastic."
        )
    return True


class BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: fitting, and the forward pass."""

    _is_classifier = False

    # --- input --------------------------------------------------------------------

    def _fit_dtype(self):
        """``dtype=None`` keeps float32 input and makes anything else float64."""
        if self.dtype is None:
            return (np.float64, np.float32)
        return np.dtype(self.dtype).type

    def _check_sample_weight(self, sample_weight, X):
        n = X.shape[0]
        if sample_weight is None:
            return None
        if np.isscalar(sample_weight):
            return np.full(n, sample_weight, dtype=X.dtype)
        sw = np.asarray(sample_weight)
        if sw.ndim != 1 or sw.shape[0] != n:
            raise ValueError(
                f"sample_weight.shape == {sw.shape}, expected {(n,)}: one weight per sample."
            )
        sw = np.ascontiguousarray(sw, dtype=X.dtype)
        if not np.all(np.isfinite(sw)):
            raise ValueError("sample_weight contains NaN or infinity.")
        if np.any(sw < 0):
            raise ValueError("sample_weight must be non-negative.")
        if not np.any(sw > 0):
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return sw

    def _dropout_rates(self):
        """One dropout rate per hidden layer, validated (zeros when ``dropout=None``)."""
        owner = type(self).__name__
        hidden = _params.hidden_layer_sizes(self.hidden_layer_sizes, owner)
        rates = _params.dropout_rates(self.dropout, len(hidden), owner)
        if any(rates) and self.solver == "lbfgs":
            raise ValueError(
                "dropout needs a stochastic solver ('sgd', 'adam', 'adamw' or 'rmsprop'); "
                "lbfgs minimises a fixed objective."
            )
        return rates

    def _apply_class_weight(self, sample_weight, y, dtype, incremental):
        """Multiply the sample weights by the weights of the samples' classes."""
        return sample_weight

    # --- fitting ------------------------------------------------------------------

    def _fit(self, X, y, sample_weight=None, incremental=False):
        _params.check_params(self)
        hidden = _params.hidden_layer_sizes(self.hidden_layer_sizes, type(self).__name__)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        self._dropout_rates()  # validates dropout before any work
        X, y_labels = self._validate_labels(X, y, incremental, reset=first_pass)
        sample_weight = self._check_sample_weight(sample_weight, X)
        sample_weight = self._apply_class_weight(sample_weight, y_labels, X.dtype, incremental)
        y = self._encode_targets(y_labels)
        Y_split = y.reshape(-1, 1) if y.ndim == 1 else y
        Y = np.ascontiguousarray(Y_split, dtype=X.dtype)
        self.n_outputs_ = Y.shape[1]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(X.shape[1], hidden, Y.shape[1], X.dtype)
        elif self.coefs_[0].dtype != X.dtype:
            raise ValueError(
                f"This model was fitted on {self.coefs_[0].dtype} data and cannot continue "
                f"training on {X.dtype} data; pass dtype='{self.coefs_[0].dtype}'."
            )
        if self.solver == "lbfgs":
            engine.fit_lbfgs(self, X, Y, sample_weight)
        else:
            engine.fit_stochastic(self, X, Y, sample_weight, Y_split, incremental)
        if not all(np.isfinite(p).all() for p in [*self.coefs_, *self.intercepts_]):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain "
                "large values and need to be preprocessed."
            )
        return self

    def _initialize(self, n_features, hidden, n_outputs, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = n_outputs
        self._sizes = layer_sizes(n_features, hidden, n_outputs)
        self.n_layers_ = len(self._sizes)
        loss = self._output_loss()
        self.out_activation_ = C.OUTPUT_ACTIVATION[loss]
        self._codes = np.array(
            [C.ACTIVATIONS[self.activation], loss, C.SOLVERS.get(self.solver, 0)], dtype=np.int64
        )
        self.coefs_, self.intercepts_ = engine.new_parameters(self, dtype)
        if self.solver in C.SOLVERS:
            self._best_theta = pack(self.coefs_, self.intercepts_, dtype)
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.validation_loss_curve_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.validation_loss_curve_ = None
                self.best_validation_score_ = None

    def fit(self, X, y, sample_weight=None):
        """Fit the model to data ``X`` and targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data (dense; sparse matrices are refused).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets: class labels for a classifier, real numbers for a regressor.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the loss; ``None`` gives every sample weight one.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    # --- prediction ---------------------------------------------------------------

    def _forward(self, X):
        """Output activations for ``X``, validated against the fitted model."""
        check_is_fitted(self, "coefs_")
        dtype = self.coefs_[0].dtype
        X = validate_data(self, X, reset=False, dtype=dtype, order="C")
        return engine.predict_output(self, X)

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict_validated(X)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    def _predict_validated(self, X):
        X = np.ascontiguousarray(X, dtype=self.coefs_[0].dtype)
        return self._decode_output(engine.predict_output(self, X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier, trained by fastnn's own kernels.

    The same parameters, defaults and fitted attributes as
    :class:`sklearn.neural_network.MLPClassifier`; with ``dtype="float64"`` and the same
    ``random_state`` it reproduces scikit-learn's ``loss_curve_``.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The number of units of each hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu', 'leaky_relu'}, default='relu'
        The hidden units' activation (leaky_relu: slope 0.01 below zero).
    solver : {'lbfgs', 'sgd', 'adam', 'adamw', 'rmsprop'}, default='adam'
        The weight optimizer. ``adamw`` turns ``alpha`` into a decoupled weight decay
        of the weights (arXiv 1711.05101); ``rmsprop`` uses ``beta_2`` as its decay rate.
    alpha : float, default=1e-4
        Strength of the L2 penalty, divided by the (weighted) number of samples.
    batch_size : int or 'auto', default='auto'
        Mini-batch size; ``'auto'`` is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive', 'cosine', 'step'}, default='constant'
        The learning-rate schedule. ``invscaling`` and ``adaptive`` apply to sgd only,
        as in scikit-learn; ``cosine`` (to zero over ``max_iter`` epochs) and ``step``
        (times 0.1 every ``max_iter // 3`` epochs) apply to every stochastic solver.
    learning_rate_init : float, default=0.001
        Initial step size (sgd and adam).
    power_t : float, default=0.5
        Exponent of the inverse-scaling schedule.
    max_iter : int, default=200
        Maximum number of epochs (iterations for lbfgs).
    shuffle : bool, default=True
        Whether to shuffle the samples each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and the early-stopping split.
    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement.
    verbose : bool, default=False
        Print progress to stdout.
    warm_start : bool, default=False
        Continue from the previous fit's weights.
    momentum : float, default=0.9
        Momentum of sgd.
    nesterovs_momentum : bool, default=True
        Whether sgd uses Nesterov's momentum.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its score stalls.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's decay rates of the first and second moment estimates.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    max_fun : int, default=15000
        Maximum loss evaluations (lbfgs).
    dropout : float or sequence of float, default=None
        Dropout rate of every hidden layer, or one rate per hidden layer, each in
        ``[0, 1)``; stochastic solvers only. The masks come from a counter-based
        generator, so results depend neither on the engine nor on the thread count.
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes, multiplying ``sample_weight``; classes a dict leaves out
        weigh 1. ``'balanced'`` weighs classes inversely to their frequency (not
        available in ``partial_fit``).
    callbacks : callable or list of callables, default=None
        Each is called as ``callback(model, info)`` after every epoch (every iteration
        for lbfgs), with ``info`` holding ``epoch``, ``loss``, ``validation_score``,
        ``validation_loss`` and ``learning_rate``; a ``True`` return stops training.
    backend : {'numba', 'numpy'}, default='numba'
        Which engine computes: compiled kernels or the plain NumPy reference.
    dtype : {None, 'float32', 'float64'}, default=None
        Floating type of the computation; ``None`` keeps float32 input as float32 and
        makes anything else float64.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Class labels.
    loss_ : float
        The last epoch's mean loss.
    best_loss_ : float or None
        The lowest loss seen (``None`` with early stopping).
    loss_curve_ : list of float
        The mean loss of each epoch (stochastic solvers).
    validation_scores_ : list of float or None
        Accuracy on the held-out set after each epoch (early stopping only).
    validation_loss_curve_ : list of float or None
        The loss (with the L2 penalty) on the held-out set after each epoch (early
        stopping only).
    best_validation_score_ : float or None
        The best of ``validation_scores_``.
    t_ : int
        Number of training samples seen.
    coefs_ : list of ndarray
        ``coefs_[i]`` is the weight matrix ``W`` of layer ``i``.
    intercepts_ : list of ndarray
        ``intercepts_[i]`` is the bias vector ``b`` of layer ``i``.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of str
        Feature names, when ``X`` has string column names.
    n_iter_ : int
        Number of epochs (iterations for lbfgs) run.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        ``'logistic'`` for binary and multilabel targets, ``'softmax'`` for multiclass.
    """

    _is_classifier = True

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=None,
        class_weight=None,
        callbacks=None,
        backend="numba",
        dtype=None,
    ):
        self.class_weight = class_weight
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.callbacks = callbacks
        self.backend = backend
        self.dtype = dtype

    def _output_loss(self):
        if self._label_binarizer.y_type_ == "multiclass":
            return C.LOG_LOSS
        return C.BINARY_LOG_LOSS

    def _validate_labels(self, X, y, incremental, reset):
        X, y = validate_data(
            self, X, y, multi_output=True, dtype=self._fit_dtype(), order="C", reset=reset
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        y = _label_array(y, type(self).__name__)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = _label_binarizer(y, type(self).__name__)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {classes}."
                )
        return X, y

    def _encode_targets(self, y):
        """One-hot targets (one column for two classes), as ``LabelBinarizer.transform``
        writes them; computed directly for 1-D labels, which skips its checks of the
        labels (already validated) and costs a fit of a small data set little."""
        classes = self._label_binarizer.classes_
        if self._label_binarizer.y_type_ == "binary" and np.ndim(y) == 1:
            return (y == classes[1]).reshape(-1, 1)
        if self._label_binarizer.y_type_ == "multiclass" and np.ndim(y) == 1:
            return y[:, None] == classes[None, :]
        return self._label_binarizer.transform(y).astype(bool)

    def _apply_class_weight(self, sample_weight, y, dtype, incremental):
        if self.class_weight is None:
            return sample_weight
        if self._label_binarizer.y_type_ == "multilabel-indicator":
            raise ValueError("class_weight is not supported for multilabel targets.")
        if incremental and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported for partial_fit: the class "
                "frequencies of one batch are not those of the data. Pass a dict instead."
            )
        if isinstance(self.class_weight, dict):
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(
                    f"class_weight has labels {sorted(unknown, key=str)} that are not among "
                    f"the classes {self.classes_.tolist()}."
                )
        elif self.class_weight != "balanced":
            raise ValueError(
                "The 'class_weight' parameter of MLPClassifier must be None, 'balanced' or "
                f"a dict mapping classes to weights. Got {self.class_weight!r} instead."
            )
        if isinstance(self.class_weight, dict):
            # Classes the dict leaves out weigh 1; a batch need not hold every class.
            per_class = np.array([self.class_weight.get(c, 1.0) for c in self.classes_.tolist()])
            weights = per_class[np.searchsorted(self.classes_, y)].astype(dtype)
        else:
            weights = compute_sample_weight(self.class_weight, y).astype(dtype)
        if sample_weight is None:
            return np.ascontiguousarray(weights)
        return sample_weight * weights

    def _decode_targets(self, Y):
        return self._label_binarizer.inverse_transform(Y)

    def _decode_output(self, out):
        if self.n_outputs_ == 1:
            out = out.ravel()
        return self._label_binarizer.inverse_transform(out)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on ``(X, y)``; ``y`` may hold the labels as ``fit`` took them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            The true labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            The fraction of samples whose predicted label is ``y``.
        """
        y = _label_array(y, type(self).__name__)
        return super().score(X, y, sample_weight=sample_weight)

    def predict(self, X):
        """Predict class labels (or a label-indicator matrix for multilabel targets).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        return self._decode_output(self._forward(X))

    @available_if(_has_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Run one epoch over ``(X, y)``, continuing from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            The targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        classes : array of shape (n_classes,), default=None
            All the classes; required on the first call, ignored (if equal) afterwards.

        Returns
        -------
        self : object
            The trained estimator.
        """
        if classes is not None:
            classes = _label_array(classes, type(self).__name__)
        if _first_partial_fit_call(self, classes):
            multilabel = type_of_target(y).startswith("multilabel")
            self._label_binarizer = _label_binarizer(
                y if multilabel else classes, type(self).__name__
            )
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_proba(self, X):
        """Probability of each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities, in the order of ``classes_``.
        """
        out = self._forward(X)
        if self.n_outputs_ == 1:
            out = out.ravel()
        if out.ndim == 1:
            return np.vstack([1 - out, out]).T
        return out

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, in the order of ``classes_``.
        """
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _label_array(labels, owner):
    """Class labels as an array scikit-learn's label tools accept: an object array must
    hold only strings or only numbers, and one of numbers becomes a numeric array."""
    labels = np.asarray(labels)
    if labels.dtype != object:
        return labels
    kinds = {"strings" if isinstance(v, str) else "numbers" for v in labels.ravel()}
    if len(kinds) > 1:
        raise ValueError(
            f"{owner} got class labels that mix strings and numbers: "
            f"{sorted(set(labels.ravel().tolist()), key=str)[:5]}. Labels must be all "
            "strings or all numbers."
        )
    return np.asarray(labels.tolist()) if kinds == {"numbers"} else labels


def _label_binarizer(labels, owner):
    """A ``LabelBinarizer`` fitted to the class labels; at least two classes.

    1-D labels are fitted through their distinct values: the same target type and
    classes (``type_of_target`` of a 1-D array depends only on its distinct values), in
    about half the time for a data set of a few thousand labels. 1-D integer labels skip
    the fit, whose checks cost about 0.3 ms a call: their type is ``'binary'`` (at most
    two classes) or ``'multiclass'``, and their classes the sorted distinct values, as
    the fit would find (``tests/test_validation.py`` compares the two). Labels the
    binarizer refuses are fitted again as they are, so that its message quotes them."""
    labels = np.asarray(labels)
    if labels.ndim == 1 and labels.dtype.kind in "iu" and labels.size:
        binarizer = LabelBinarizer()
        classes = np.unique(labels)
        binarizer.classes_ = classes.astype(classes.dtype.newbyteorder("="), copy=False)
        binarizer.y_type_ = "multiclass" if len(binarizer.classes_) > 2 else "binary"
        binarizer.sparse_input_ = False
    else:
        try:
            binarizer = LabelBinarizer().fit(np.unique(labels) if labels.ndim == 1 else labels)
        except (TypeError, ValueError):
            binarizer = LabelBinarizer().fit(labels)
    if binarizer.y_type_ != "multilabel-indicator" and len(binarizer.classes_) < 2:
        raise ValueError(
            f"{owner} needs samples of at least 2 classes in the data, but the data contains "
            f"only one class: {binarizer.classes_.tolist()[0]!r}."
        )
    return binarizer


def _first_partial_fit_call(est, classes):
    """Whether this is the first ``partial_fit``; sets ``classes_`` from ``classes``."""
    if getattr(est, "classes_", None) is None and classes is None:
        raise ValueError("classes must be passed on the first call to partial_fit.")
    if classes is not None:
        if getattr(est, "classes_", None) is not None:
            if not np.array_equal(est.classes_, unique_labels(classes)):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                    f"was: {est.classes_!r}"
                )
        else:
            est.classes_ = unique_labels(classes)
            return True
    return False


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor, trained by fastnn's own kernels.

    The same parameters, defaults and fitted attributes as
    :class:`sklearn.neural_network.MLPRegressor`. ``loss`` is ``'squared_error'``
    (identity output), ``'poisson'`` (exponential output, targets >= 0), ``'huber'``
    (quadratic within 1 of the target, linear beyond) or ``'absolute_error'``. The other
    parameters are those of :class:`MLPClassifier` except ``class_weight``;
    ``validation_scores_`` holds R².
    """

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=None,
        callbacks=None,
        backend="numba",
        dtype=None,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.callbacks = callbacks
        self.backend = backend
        self.dtype = dtype

    def _output_loss(self):
        return C.REGRESSION_LOSSES[self.loss]

    def _validate_labels(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            multi_output=True,
            y_numeric=True,
            dtype=self._fit_dtype(),
            order="C",
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("loss='poisson' requires non-negative targets y; got negative values.")
        return X, y

    def _encode_targets(self, y):
        return y

    def _decode_targets(self, Y):
        return Y.ravel() if Y.shape[1] == 1 else Y

    def _decode_output(self, out):
        return out.ravel() if out.shape[1] == 1 else out

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, r2_score)

    def predict(self, X):
        """Predict the targets of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        return self._decode_output(self._forward(X))

    @available_if(_has_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch over ``(X, y)``, continuing from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            The trained estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
