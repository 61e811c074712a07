"""How many threads a fit's epoch kernel may use: 2, or 1 where that is not safe.

:func:`fastnn.kernels.epoch.run_epochs` runs a mini-batch's two blocks of rows on two
threads through Numba's ``prange``. That needs a threading layer that tolerates
launches from several Python threads at once (OpenMP or TBB): the ``workqueue``
fallback aborts the process when two fits run in two threads. The answer changes
only the speed, never the result: one thread runs the same blocks in turn.
"""

import importlib

import numba

SAFE_LAYERS = ("omp", "tbb")


def _loads(layer):
    try:
        importlib.import_module(f"numba.np.ufunc.{layer}pool")
    except ImportError:  # e.g. no libgomp or no tbb on this machine
        return False
    return True


def fit_workers():
    """2 if Numba has at least two threads and a thread-safe layer, else 1.

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
    if chosen in ("safe", "threadsafe"):
        return 2 if any(_loads(layer) for layer in SAFE_LAYERS) else 1
    if chosen in SAFE_LAYERS:
        return 2 if _loads(chosen) else 1
    if chosen != "default":  # workqueue, asked for by name
        return 1
    for layer in numba.config.THREADING_LAYER_PRIORITY:
        if layer in SAFE_LAYERS and _loads(layer):
            return 2
        if layer == "workqueue":
            return 1
    return 1
