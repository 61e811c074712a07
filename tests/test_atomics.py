"""The atomics the two workers share their counters with (``fastnn/kernels/atomics.py``),
driven directly: each operation's meaning on one thread, and compare-and-swap claims
that two threads racing over the same counters never both win.
"""

import threading

import numba
import numpy as np
import pytest

from fastnn.kernels.atomics import atomic_cas, atomic_load, atomic_store

JIT = not numba.config.DISABLE_JIT


@numba.njit(nogil=True)
def _load_store_cas(counters):
    """Each operation once; what each returned."""
    atomic_store(counters, 1, 7)
    loaded = atomic_load(counters, 1)
    won = atomic_cas(counters, 1, 7, 8)  # expected 7: swaps
    lost = atomic_cas(counters, 1, 7, 9)  # expected 7, holds 8: does not
    return loaded, won, lost


@numba.njit(nogil=True)
def _claim_all(counters, wins, n):
    """Claim tickets 0 .. n-1 by compare-and-swap, in order, racing another thread
    doing the same: ``wins[t] = 1`` for each ticket this thread won."""
    t = 0
    while t < n:
        if atomic_cas(counters, 0, t, t + 1):
            wins[t] = 1
        t = atomic_load(counters, 0)  # a lost claim: the other thread took ticket t


def test_each_operation_on_one_thread():
    counters = np.zeros(3, dtype=np.int64)
    loaded, won, lost = _load_store_cas(counters)
    assert loaded == 7
    assert won and not lost
    assert counters.tolist() == [0, 8, 0]  # only slot 1 was touched


@pytest.mark.skipif(not JIT, reason="NUMBA_DISABLE_JIT: the Python stand-ins hold a lock")
def test_two_threads_never_win_the_same_claim():
    n = 200_000
    counters = np.zeros(1, dtype=np.int64)
    wins = [np.zeros(n, dtype=np.int64) for _ in range(2)]
    _claim_all(counters, np.zeros(1, dtype=np.int64), 0)  # compile before the race
    threads = [threading.Thread(target=_claim_all, args=(counters, w, n)) for w in wins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counters[0] == n
    # Every ticket won exactly once: by one thread or the other, never both, never none.
    assert np.array_equal(wins[0] + wins[1], np.ones(n, dtype=np.int64))
