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
_state = {"users": 0, "restore": None, "libraries": None}


def threads_for():
    """How many BLAS threads a fit uses: ``FASTNN_BLAS_THREADS``, else one."""
    return int(os.environ.get("FASTNN_BLAS_THREADS") or 1)


def _blas_libraries():
    """threadpoolctl's controllers of the BLAS libraries this process has loaded
    (``ThreadpoolController().select(user_api="blas").lib_controllers``), found once:
    finding them reads every loaded library's symbols."""
    if _state["libraries"] is None:
        from threadpoolctl import ThreadpoolController

        _state["libraries"] = ThreadpoolController().select(user_api="blas").lib_controllers
    return _state["libraries"]


@contextmanager
def fit_blas_threads():
    """Run the block with the BLAS thread count of :func:`threads_for`.

    Each library's count is read and set through its threadpoolctl controller
    (``num_threads``, ``set_num_threads``), and the counts that changed are put back
    after the last concurrent fit. ``ThreadpoolController.limit`` does the same, but
    first reads every library's whole ``info``: 20 us a fit (two OpenBLAS libraries,
    NumPy's and SciPy's), a tenth of a small fit's fixed cost, against 5 us this way."""
    threads = threads_for()
    with _lock:
        if _state["users"] == 0:
            before = [(lib, lib.num_threads) for lib in _blas_libraries()]
            _state["restore"] = [(lib, n) for lib, n in before if n != threads]
            for lib, _ in _state["restore"]:
                lib.set_num_threads(threads)
        _state["users"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["users"] -= 1
            if _state["users"] == 0:
                for lib, n in _state["restore"]:
                    lib.set_num_threads(n)
                _state["restore"] = None
