"""Compile (or load) every kernel a fit can call, ahead of the first fit."""

import warnings

import numpy as np
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning


def warmup(dtypes=("float64", "float32")):
    """Compile fastnn's Numba kernels for the given dtypes now, instead of at first fit.

    Every kernel a fit or a prediction can call, whatever the solver, activation, loss,
    dropout or network: the one-worker and two-worker epoch kernels, for rows, for
    wide layers (the model-parallel kernel) and for sparse input, the full-batch
    gradient of lbfgs, and prediction. Each loads instead if its compiled code is
    already on disk (see :mod:`fastnn._cache`): after ``pip install .``, whose build
    ran this, there is nothing left to compile.

    Parameters
    ----------
    dtypes : sequence of {'float64', 'float32'}, default=('float64', 'float32')
        The floating types to compile for.
    """
    from fastnn._workers import workers_forced
    from fastnn.estimators import MLPClassifier

    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    X_split, y_split = np.tile(X, (8, 1)), np.tile(y, 8)
    # Two workers even on one CPU: the kernels are the same whatever runs them.
    with warnings.catch_warnings(), workers_forced(2):
        warnings.simplefilter("ignore", ConvergenceWarning)
        for dtype in dtypes:
            for solver in ("adam", "lbfgs"):
                model = MLPClassifier((2,), solver=solver, max_iter=1, random_state=0, dtype=dtype)
                model.fit(X, y).predict_proba(X)
            # Batches of 32 rows into 128 units are split in two blocks of rows, one per
            # worker (fastnn/kernels/epoch.py).
            MLPClassifier((128, 128), max_iter=1, random_state=0, dtype=dtype).fit(X_split, y_split)
            # 256 x 256 weights, batches of 32 rows: each layer's units split between the
            # workers (fastnn/kernels/split.py).
            MLPClassifier((256, 256), max_iter=1, random_state=0, dtype=dtype).fit(X_split, y_split)
            # Sparse input (fastnn/kernels/sparse.py): its epoch kernel and prediction.
            X_sparse = scipy.sparse.csr_matrix(X_split)
            model = MLPClassifier((2,), max_iter=1, random_state=0, dtype=dtype)
            model.fit(X_sparse, y_split).predict_proba(X_sparse)
