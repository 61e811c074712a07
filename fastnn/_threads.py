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

Two workers are not always faster. They exchange half the parameters and half the
gradient every mini-batch, so they depend on how far apart their cores are, and on a
virtual machine that changes: on the 2-vCPU machine fastnn is measured on, a round trip
between the two threads took 100 ns at times and 600 to 1,400 ns at others, for
seconds at a time. A digits fit then took 15 to 16 ms per epoch on two workers and 6 ms
on one, against 4 ms on two otherwise. :class:`WorkerChoice` watches each call's time
per mini-batch and runs one worker while two are measured slower (see there).
"""

import contextlib
import os
import queue
import threading

import numba

_forced = threading.local()  # .workers: what :func:`workers_forced` sets, in its thread


@contextlib.contextmanager
def workers_forced(n):
    """Within the block, and in this thread, :func:`fit_workers` is ``n`` whatever the
    machine, so that :func:`fastnn.warmup` compiles the two-worker kernels on one CPU
    too (a package built on one CPU may run on two)."""
    previous = getattr(_forced, "workers", None)
    _forced.workers = n
    try:
        yield
    finally:
        _forced.workers = previous


def fit_workers():
    """2 if Numba's thread count and this process's CPUs both allow it, else 1."""
    forced = getattr(_forced, "workers", None)
    if forced is not None:
        return forced
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


class WorkerChoice:
    """How many workers the next call of a fit's epoch kernel runs, from the times per
    mini-batch of earlier calls of the same network shape (in this process).

    Two workers by default. The first call is not counted (it may have compiled the
    kernels), and the first call after a counted two-worker one runs on one worker: a
    process that starts while two workers are slow (the vCPUs far apart) would otherwise
    take their slow time for the usual one. A two-worker call more than :attr:`SLOWER`
    times slower per mini-batch than usual (the fastest seen) is followed by a one-worker
    call. One worker stays while it measures faster than two last did, and every
    :attr:`PROBE_EVERY`-th call tries two again. If one worker was no faster, two are
    back, and their slower time becomes the usual one (the machine is slower, not the
    hand-over). The number of workers changes the speed, never the bits.
    """

    SLOWER = 1.5
    PROBE_EVERY = 4

    def __init__(self):
        self._lock = threading.Lock()
        self.workers = 2  # for the next call
        self.usual = float("inf")  # seconds per mini-batch on two workers
        self.last = {1: float("inf"), 2: float("inf")}
        self._calls_on_one = 0
        self._tried_one = False
        self._counting = False  # from the second call on

    def next_workers(self):
        """1 or 2, for the next call."""
        with self._lock:
            if not self._tried_one and self.last[2] < float("inf"):
                self._tried_one = True
                return 1  # the first comparison of one worker with two
            if self.workers == 1:
                self._calls_on_one += 1
                if self._calls_on_one >= self.PROBE_EVERY:
                    self._calls_on_one = 0
                    return 2
            return self.workers

    def record(self, workers, seconds_per_batch):
        """A call on ``workers`` workers took ``seconds_per_batch`` per mini-batch."""
        with self._lock:
            if not self._counting:
                self._counting = True
                return
            t = seconds_per_batch
            self.last[workers] = t
            if workers == 2:
                if self.workers == 2 and t > self.SLOWER * self.usual:
                    self.workers, self._calls_on_one = 1, 0  # try one worker next
                elif self.workers == 1 and t < self.last[1]:
                    self.workers = 2  # a probe found two faster again
                self.usual = min(self.usual, t)
            elif t >= self.last[2]:
                self.workers = 2  # one worker was no faster
                self.usual = self.last[2]
            elif self.workers == 2:  # the first trial: one worker was faster
                self.workers, self._calls_on_one = 1, 0


_choices = {}
_choices_lock = threading.Lock()


def worker_choice(key):
    """The process's :class:`WorkerChoice` for fits keyed ``key``: their network's
    shape, batch size, dtype and codes, whether they use dropout (which decides the
    kernel, see :func:`fastnn.kernels.epoch.epochs_kernel`), and whether each call runs
    one epoch (its fixed cost per call then weighs more per mini-batch)."""
    with _choices_lock:
        if key not in _choices:
            _choices[key] = WorkerChoice()
        return _choices[key]
