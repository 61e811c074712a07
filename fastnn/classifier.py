"""``MLPClassifier``: scikit-learn's classifier API over fastnn's engines.

It validates input, keeps the fitted attributes scikit-learn users know, and hands the
arithmetic to the engines. What it shares with the regressor (fitting, the forward pass)
is :class:`fastnn._base.BaseMLP`; its class labels are checked, encoded and weighed by
:mod:`fastnn.labels`. It subclasses only scikit-learn's public mixins, never its MLP.
"""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target

from fastnn import _codes as C
from fastnn import labels
from fastnn._base import BaseMLP, has_stochastic_solver


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
        X, y = self._validate_fit_data(X, y, reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        y = labels.label_array(y, type(self).__name__)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = labels.label_binarizer(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            labels.check_known_classes(y, self.classes_, warm_start=self.warm_start)
        return X, y

    def _encode_targets(self, y):
        return labels.one_hot(self._label_binarizer, y)

    def _apply_class_weight(self, sample_weight, y, dtype, incremental):
        if self.class_weight is None:
            return sample_weight
        weights = labels.class_sample_weights(
            self.class_weight,
            y,
            classes=self.classes_,
            y_type=self._label_binarizer.y_type_,
            incremental=incremental,
            dtype=dtype,
        )
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
        y = labels.label_array(y, type(self).__name__)
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

    @available_if(has_stochastic_solver)
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
            classes = labels.label_array(classes, type(self).__name__)
        if labels.first_partial_fit_call(self, classes):
            multilabel = type_of_target(y).startswith("multilabel")
            self._label_binarizer = labels.label_binarizer(y if multilabel else classes)
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
        if self.n_outputs_ == 1:  # the probability of the second class
            return np.concatenate((1 - out, out), axis=1)
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
