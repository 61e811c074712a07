"""Shared test data: small problems of each target type, and the engines to run.

Test modules import these from here (``from problems import load``), never from
``conftest``: pytest imports every rootless ``conftest.py`` as the one module
``conftest``, and ``benchmarks/conftest.py`` is collected in the same run.

Every dataset is tiny (at most 200 samples, a handful of features) so that training a
few dozen epochs takes milliseconds; the cost of a test is then the first Numba
compile per dtype (about 10 s, cached on disk afterwards).
"""

import functools

import numpy as np
from sklearn.datasets import (
    load_iris,
    make_moons,
    make_multilabel_classification,
    make_regression,
)
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.preprocessing import StandardScaler

from fastnn import MLPClassifier, MLPRegressor

BACKENDS = ["numba", "numpy"]

TARGETS = ["binary", "multiclass", "multilabel", "regression", "poisson"]


def _standardize(X):
    return StandardScaler().fit_transform(X)


@functools.cache
def _binary():
    """Two interleaved half moons: 200 samples, 2 features, labels 0/1."""
    X, y = make_moons(n_samples=200, noise=0.2, random_state=0)
    return _standardize(X), y


@functools.cache
def _multiclass():
    """Iris: 150 samples, 4 standardised features, 3 classes."""
    X, y = load_iris(return_X_y=True)
    return _standardize(X), y


@functools.cache
def _multilabel():
    """100 samples, 6 features, a 3-column label-indicator matrix."""
    X, Y = make_multilabel_classification(
        n_samples=100, n_features=6, n_classes=3, n_labels=2, random_state=0
    )
    return _standardize(X), Y


@functools.cache
def _regression():
    """120 samples, 5 features, a standardised real target."""
    X, y = make_regression(n_samples=120, n_features=5, noise=5.0, random_state=0)
    return _standardize(X), (y - y.mean()) / y.std()


@functools.cache
def _poisson():
    """120 samples, 4 features, counts drawn with log-mean linear in ``X``."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    y = rng.poisson(np.exp(0.5 + X @ np.array([0.4, -0.3, 0.2, 0.0])))
    return X, y.astype(np.float64)


_LOADERS = {
    "binary": _binary,
    "multiclass": _multiclass,
    "multilabel": _multilabel,
    "regression": _regression,
    "poisson": _poisson,
}


def load(target):
    """Fresh copies of ``(X, y)`` for a target type of :data:`TARGETS`."""
    X, y = _LOADERS[target]()
    return X.copy(), y.copy()


def estimators(target, **params):
    """A fastnn estimator and its scikit-learn twin for ``target``, with ``params``.

    ``backend`` and ``dtype`` go to the fastnn one only; the regressor gets
    ``loss="poisson"`` for the Poisson target.
    """
    fastnn_only = {k: params.pop(k) for k in ("backend", "dtype") if k in params}
    if target in ("regression", "poisson"):
        params.setdefault("loss", "poisson" if target == "poisson" else "squared_error")
        return MLPRegressor(**params, **fastnn_only), SkMLPRegressor(**params)
    return MLPClassifier(**params, **fastnn_only), SkMLPClassifier(**params)
