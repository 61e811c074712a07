"""How many threads a fit's epoch kernel may use (2, or 1), and the helper thread the
second one runs on.

:func:`fastnn.kernels.epoch.run_epochs_2` runs a mini-batch's second block of rows in a
second thread. The answer changes only the speed, never the result: one thread runs
the same blocks in turn. Numba's thread count is the knob (``NUMBA_NUM_THREADS=1``, or
``numba.set_num_threads(1)``, keeps a fit on one thread), bounded by the CPUs this
process may run on.

Helper threads are kept between calls: starting and joining a thread costs about
0.1 ms, as much as several mini-batches of a small network, and a fit makes a call
every few epochs. A helper serves one call at a time; calls made at once (fits in
several threads) each get their own.
"""

import os
import queue
import threading

import numba


def fit_workers():
    """2 if Numba's thread count and this process's CPUs both allow it, else 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return 2 if min(numba.get_num_threads(), cpus) >= 2 else 1


class _Helper:
    """A daemon thread that runs the functions put on its queue, one after another."""

    def __init__(self):
        self.jobs = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="fastnn-worker-1", daemon=True).start()

    def _serve(self):
        while True:
            fn, args, outcome, done = self.jobs.get()
            try:
                fn(*args)
            except BaseException as error:  # handed to the caller, which raises it
                outcome.append(error)
            finally:
                done.release()
                # An idle helper must not keep the call's arrays (a fit's data) alive.
                del fn, args, outcome, done


_idle = []  # helpers waiting for a call
_idle_lock = threading.Lock()


def _forget_helpers():
    """In a forked child: none of the parent's threads exist, and the lock may have been
    held by one of them at the fork."""
    global _idle_lock
    _idle.clear()
    _idle_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_helpers)


def start_helper(fn, args):
    """Start ``fn(*args)`` on a helper thread; return a function that waits for it to
    finish (and raises what it raised)."""
    with _idle_lock:
        helper = _idle.pop() if _idle else None
    if helper is None:
        helper = _Helper()
    outcome = []
    done = threading.Lock()
    done.acquire()
    helper.jobs.put((fn, args, outcome, done))

    def wait():
        done.acquire()
        with _idle_lock:
            _idle.append(helper)
        if outcome:
            raise outcome[0]

    return wait
