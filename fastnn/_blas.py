"""How many threads the BLAS behind the kernels' matrix products may use.

For the small matrices of a typical mini-batch (up to about 128 x 256 x 256), a second
BLAS thread costs more in synchronisation than it gains. On a busy machine it is worse:
OpenBLAS threads wait for a core another process holds, and a fit slows down many times
over (measured here: a 2-512-512-1 epoch took 3.8 s with two BLAS threads while another
process kept one core busy, and 0.44 s with one). So BLAS runs on one thread unless the
largest per-batch product has at least ``SINGLE_THREAD_BELOW`` multiply-adds *and* the
machine has a core to spare (load average below ``cores - 0.5``).
``FASTNN_BLAS_THREADS`` overrides the choice. The limit is process-wide (BLAS has no
per-thread setting), so it is reference-counted: concurrent fits share it, and the last
one out restores the default.
"""

import os
import threading
from contextlib import contextmanager

SINGLE_THREAD_BELOW = 8 * 2**20

_lock = threading.Lock()
_state = {"users": 0, "limiter": None, "controller": None}


def largest_product(sizes, rows):
    """Multiply-adds of the largest matrix product of one batch of ``rows`` rows."""
    sizes = [int(s) for s in sizes]
    return rows * max(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def threads_for(sizes, rows):
    """How many BLAS threads a fit of this shape should use (``None``: the default)."""
    if os.environ.get("FASTNN_BLAS_THREADS"):
        return int(os.environ["FASTNN_BLAS_THREADS"])
    if largest_product(sizes, rows) < SINGLE_THREAD_BELOW:
        return 1
    cores = os.cpu_count() or 1
    busy = hasattr(os, "getloadavg") and os.getloadavg()[0] >= cores - 0.5
    return 1 if busy or cores == 1 else None


@contextmanager
def blas_threads_for(sizes, rows):
    """Run the block with one BLAS thread unless a large fit has cores to spare."""
    threads = threads_for(sizes, rows)
    if threads is None:
        yield
        return
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
