"""How many threads the BLAS behind the kernels' matrix products may use: one.

For the small matrices of a typical mini-batch, a second BLAS thread costs more in
synchronisation than it gains. On a busy machine it is far worse: OpenBLAS threads wait
for a core another process holds, and a fit slows down many times over (measured here:
a 2-512-512-1 epoch took 3.8 s with two BLAS threads while another process kept one core
busy, and 0.44 s with one). And the thread count changes the rounding of large products,
so a choice that followed the machine's load would break "same seed, same bits". So BLAS
runs on one thread during a fit, always; ``FASTNN_BLAS_THREADS=N`` opts into ``N``
threads (the same for every fit of the process). The limit is process-wide (BLAS has no
per-thread setting), so it is reference-counted: concurrent fits share it, and the last
one out restores what was there before.
"""

import os
import threading
from contextlib import contextmanager

_lock = threading.Lock()
_state = {"users": 0, "limiter": None, "controller": None}


def threads_for():
    """How many BLAS threads a fit uses: ``FASTNN_BLAS_THREADS``, else one."""
    return int(os.environ.get("FASTNN_BLAS_THREADS") or 1)


@contextmanager
def fit_blas_threads():
    """Run the block with the BLAS thread count of :func:`threads_for`."""
    threads = threads_for()
    with _lock:
        if _state["users"] == 0:
            if _state["controller"] is None:
                from threadpoolctl import ThreadpoolController

                _state["controller"] = ThreadpoolController()
            _state["limiter"] = _state["controller"].limit(limits=threads, user_api="blas")
        _state["users"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["users"] -= 1
            if _state["users"] == 0:
                _state["limiter"].restore_original_limits()
                _state["limiter"] = None
