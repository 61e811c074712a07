"""How many threads the BLAS behind the kernels' matrix products may use.

For the small matrices of a typical mini-batch (up to about 128 x 256 x 256), a second
BLAS thread costs more in synchronisation than it gains, and on a busy machine it can
slow a fit down many times over. Fits whose largest per-batch product is smaller than
``SINGLE_THREAD_BELOW`` multiply-adds therefore run BLAS on one thread; larger ones keep
the BLAS default. The limit is process-wide (BLAS has no per-thread setting), so it is
reference-counted: concurrent fits share it, and the last one out restores the default.
"""

import threading
from contextlib import contextmanager

SINGLE_THREAD_BELOW = 8 * 2**20

_lock = threading.Lock()
_state = {"users": 0, "limiter": None, "controller": None}


def largest_product(sizes, rows):
    """Multiply-adds of the largest matrix product of one batch of ``rows`` rows."""
    sizes = [int(s) for s in sizes]
    return rows * max(a * b for a, b in zip(sizes[:-1], sizes[1:]))


@contextmanager
def blas_threads_for(sizes, rows):
    """Run the block with one BLAS thread if the network's products are small."""
    if largest_product(sizes, rows) >= SINGLE_THREAD_BELOW:
        yield
        return
    with _lock:
        if _state["users"] == 0:
            if _state["controller"] is None:
                from threadpoolctl import ThreadpoolController

                _state["controller"] = ThreadpoolController()
            _state["limiter"] = _state["controller"].limit(limits=1, user_api="blas")
        _state["users"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["users"] -= 1
            if _state["users"] == 0:
                _state["limiter"].restore_original_limits()
                _state["limiter"] = None
