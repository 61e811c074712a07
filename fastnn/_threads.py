"""How many threads a fit's epoch kernel may use: 2, or 1.

:func:`fastnn.kernels.epoch.run_epochs_2` runs a mini-batch's second block of rows in a
second thread. The answer changes only the speed, never the result: one thread runs
the same blocks in turn. Numba's thread count is the knob (``NUMBA_NUM_THREADS=1``, or
``numba.set_num_threads(1)``, keeps a fit on one thread), bounded by the CPUs this
process may run on.
"""

import os

import numba


def fit_workers():
    """2 if Numba's thread count and this process's CPUs both allow it, else 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return 2 if min(numba.get_num_threads(), cpus) >= 2 else 1
