"""How many threads a fit's epoch kernel may use: 2, or 1 where that is not safe.

:func:`fastnn.kernels.epoch.run_epochs` runs a mini-batch's two blocks of rows on two
threads through Numba's ``prange``. That needs Numba's OpenMP threading layer: it
tolerates launches from several Python threads at once (the ``workqueue`` fallback
aborts the process when two fits run in two threads), and its static schedule runs
worker 0 before worker 1 when they share a thread (TBB promises no order, and worker 1
waiting on a worker 0 queued behind it would never return). The answer changes only
the speed, never the result: one thread runs the same blocks in turn.
"""

import importlib

import numba

SAFE_LAYERS = ("omp",)


def _loads(layer):
    try:
        importlib.import_module(f"numba.np.ufunc.{layer}pool")
    except ImportError:  # e.g. no libgomp or no tbb on this machine
        return False
    return True


def fit_workers():
    """2 if Numba has at least two threads and runs (or will run) OpenMP, else 1.

    The layer is the one already running, or else the first of Numba's priority list
    (``NUMBA_THREADING_LAYER`` / ``NUMBA_THREADING_LAYER_PRIORITY``) that loads.
    """
    if numba.get_num_threads() < 2:
        return 1
    try:
        return 2 if numba.threading_layer() in SAFE_LAYERS else 1
    except ValueError:  # no parallel launch yet: the layer is not chosen
        pass
    chosen = numba.config.THREADING_LAYER
    if chosen == "omp":
        return 2 if _loads("omp") else 1
    if chosen not in ("default", "threadsafe"):  # safe (TBB only), tbb, workqueue
        return 1
    # Numba takes the first layer of its priority list that loads ("threadsafe" skips
    # workqueue); workqueue always loads.
    for layer in numba.config.THREADING_LAYER_PRIORITY:
        if layer == "workqueue" and chosen == "threadsafe":
            continue
        if layer == "workqueue" or _loads(layer):
            return 2 if layer == "omp" else 1
    return 1
