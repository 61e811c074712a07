"""Compile (or load from the disk cache) every kernel ahead of the first fit."""

import numpy as np


def warmup(dtypes=("float64", "float32")):
    """Compile fastnn's Numba kernels for the given dtypes now, instead of at first fit.

    Parameters
    ----------
    dtypes : sequence of {'float64', 'float32'}, default=('float64', 'float32')
        The floating types to compile for. Each compiles once, whatever the network:
        the kernels for small networks and for wide ones (the model-parallel kernel).
    """
    from fastnn import MLPClassifier
    from fastnn._threads import fit_workers

    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    # Batches of 32 rows into 128 units are split in two blocks: on two threads, that
    # compiles the second worker's kernel too (fastnn/kernels/epoch.py).
    X_split, y_split = np.tile(X, (8, 1)), np.tile(y, 8)
    for dtype in dtypes:
        for solver in ("adam", "lbfgs"):
            model = MLPClassifier((2,), solver=solver, max_iter=1, random_state=0, dtype=dtype)
            model.fit(X, y).predict_proba(X)
        if fit_workers() >= 2:
            model = MLPClassifier((128, 128), max_iter=1, random_state=0, dtype=dtype)
            model.fit(X_split, y_split)
        # 256 x 256 weights, batches of 32 rows: each layer's units split between the
        # workers (fastnn/kernels/split.py), a kernel of its own, on one thread or two.
        model = MLPClassifier((256, 256), max_iter=1, random_state=0, dtype=dtype)
        model.fit(X_split, y_split)
