"""Compile (or load from the disk cache) every kernel ahead of the first fit."""

import numpy as np


def warmup(dtypes=("float64", "float32")):
    """Compile fastnn's Numba kernels for the given dtypes now, instead of at first fit.

    Parameters
    ----------
    dtypes : sequence of {'float64', 'float32'}, default=('float64', 'float32')
        The floating types to compile for. Each compiles once, whatever the network.
    """
    from fastnn import MLPClassifier

    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    for dtype in dtypes:
        for solver in ("adam", "lbfgs"):
            model = MLPClassifier((2,), solver=solver, max_iter=1, random_state=0, dtype=dtype)
            model.fit(X, y).predict_proba(X)
