"""What :class:`~fastnn.MLPClassifier` and :class:`~fastnn.MLPRegressor` share.

:class:`BaseMLP` validates the input, sets up the network and its fitted attributes,
hands the training to :mod:`fastnn.stochastic` or :mod:`fastnn.lbfgs`, and runs the
forward pass; the subclasses in :mod:`fastnn.estimators` say how targets are checked,
encoded and decoded.
"""

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from fastnn import _codes as C
from fastnn import _params, _random, engine, lbfgs, stochastic
from fastnn.layout import layer_sizes, pack

# Sparse X is taken in these formats (others are converted to the first), as
# scikit-learn's MLPs take it; a fit trains on CSR (fastnn/kernels/sparse.py).
SPARSE_FORMATS = ("csr", "csc")


def has_stochastic_solver(est):
    """Whether ``est`` trains by epochs, so that it has ``partial_fit``.

    Parameters
    ----------
    est : BaseMLP
        The estimator.

    Returns
    -------
    bool
        ``True``.

    Raises
    ------
    AttributeError
        If ``est.solver`` is not stochastic (lbfgs); ``available_if`` then hides
        ``partial_fit``.
    """
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
        if scipy.sparse.issparse(X):
            X = X.tocsr()
        sample_weight = self._check_sample_weight(sample_weight, X)
        sample_weight = self._apply_class_weight(sample_weight, y_labels, X.dtype, incremental)
        y = self._encode_targets(y_labels)
        Y_split = y.reshape(-1, 1) if y.ndim == 1 else y
        Y = np.ascontiguousarray(Y_split, dtype=X.dtype)
        self.n_outputs_ = Y.shape[1]
        self._random_state = _random.generator(self)
        # The generator as it was before the initial weights were drawn (its seed or
        # its state): a new stochastic fit none of whose epochs' weights is usable
        # after a divergence draws them again from it, rather than keep a copy
        # (fastnn/stochastic.py).
        initial_rng = None
        if first_pass:
            initial_rng = _random.seed_or_state(self.random_state, self._random_state)
            self._initialize(X.shape[1], hidden, Y.shape[1], X.dtype)
        elif self.coefs_[0].dtype != X.dtype:
            raise ValueError(
                f"This model was fitted on {self.coefs_[0].dtype} data and cannot continue "
                f"training on {X.dtype} data; pass dtype='{self.coefs_[0].dtype}'."
            )
        if self.solver == "lbfgs":
            lbfgs.fit_lbfgs(self, X, Y, sample_weight)
        else:
            stochastic.fit_stochastic(
                self, X, Y, sample_weight, Y_split, incremental, initial_rng=initial_rng
            )
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
            if self.early_stopping:  # the best weights so far, kept apart
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
            The input data: an array, or a sparse matrix or array (CSR or CSC; other
            formats are converted to CSR), which is never made dense.
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

    def _validate_fit_data(self, X, y, reset, **checks):
        """``X`` and ``y`` for a fit, checked as scikit-learn's ``validate_data`` checks
        them (``checks``: the subclass's own), or as they are when it would hand them
        back unchanged with nothing to say (:meth:`_plain_fit_input`)."""
        if self._plain_fit_input(X, y, reset):
            if reset:
                self.n_features_in_ = X.shape[1]
            return X, y
        return validate_data(
            self,
            X,
            y,
            accept_sparse=SPARSE_FORMATS,
            multi_output=True,
            dtype=self._fit_dtype(),
            order="C",
            reset=reset,
            **checks,
        )

    def _plain_fit_input(self, X, y, reset):
        """Whether ``validate_data`` would return ``X`` and ``y`` as they are and set
        only ``n_features_in_``: NumPy arrays (not subclasses), ``X`` two-dimensional,
        C-contiguous, of a dtype the fit takes as it is, finite, with a row and a column;
        numeric targets of the same length, finite; no feature names now or from an
        earlier fit; and the fitted width when the fit continues one.

        Those checks take about 80 us, a fifth of a small fit's fixed cost (a 1-epoch
        fit on xor) and of each ``partial_fit`` call. Anything else goes through them,
        and gets their messages and warnings. The finite checks sum the array (no
        copy): a sum that is not finite, from a NaN, an infinity or an overflow, sends
        the input through scikit-learn's own check."""
        wanted = self._fit_dtype()
        dtypes = wanted if isinstance(wanted, tuple) else (wanted,)
        width = None if reset else getattr(self, "n_features_in_", -1)
        if not (
            self._plain_X(X, dtypes, width)
            and type(y) is np.ndarray
            and y.ndim in (1, 2)
            and y.shape[0] == X.shape[0]
            and (y.ndim == 1 or y.shape[1] > 0)
            and y.dtype.kind in "biuf"
        ):
            return False
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow only says "check"
            return bool(np.isfinite(X.sum())) and (
                y.dtype.kind != "f" or bool(np.isfinite(y.sum()))
            )

    # --- prediction ---------------------------------------------------------------

    def _forward(self, X):
        """Output activations for ``X``, validated against the fitted model."""
        if not self._plain_input(X):
            check_is_fitted(self, "coefs_")
            dtype = self.coefs_[0].dtype
            X = validate_data(
                self, X, reset=False, accept_sparse=SPARSE_FORMATS, dtype=dtype, order="C"
            )
        return engine.predict_output(self, X)

    def _plain_input(self, X):
        """Whether ``X`` needs none of scikit-learn's checks and conversions: a fitted
        model without feature names, and a finite, C-contiguous NumPy array of the
        fitted dtype and width, which ``validate_data`` would return as it is.

        Those checks take about 80 us, where predicting one row of a 20-64-64-2 network
        takes a few: this is the common case of serving. Anything else goes through
        them, and gets their messages (a NaN, the wrong width, a list, a DataFrame)."""
        coefs = getattr(self, "coefs_", None)
        return (
            coefs is not None
            and self._plain_X(X, (coefs[0].dtype,), getattr(self, "n_features_in_", -1))
            and np.isfinite(X).all()
        )

    def _plain_X(self, X, dtypes, width):
        """What a plain ``X`` is, for a fit and for prediction: a NumPy array (not a
        subclass), two-dimensional and C-contiguous, with a row and a column, of one of
        ``dtypes``, ``width`` columns wide (any width for ``None``), for a model that
        has no feature names."""
        return (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.shape[0] > 0
            and X.shape[1] > 0
            and X.dtype in dtypes
            and (width is None or X.shape[1] == width)
            and X.flags.c_contiguous
            and not hasattr(self, "feature_names_in_")
        )

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict_validated(X)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    def _predict_validated(self, X):
        if not scipy.sparse.issparse(X):
            X = np.ascontiguousarray(X, dtype=self.coefs_[0].dtype)
        return self._decode_output(engine.predict_output(self, X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
