"""Who runs a fit's epochs: one thread or two, the helper thread the second one runs on,
and how many epochs each call runs.

The numba engine's epoch kernels (:func:`fastnn.kernels.epoch_workers`) come as two
workers sharing each mini-batch (:mod:`fastnn.kernels.handover`). :func:`epochs_runner`
runs worker 0 on the calling thread and worker 1 on a helper thread, or worker 0 alone,
which then does worker 1's share too. The answer changes only the speed, never the
result. Numba's thread count is the knob (``NUMBA_NUM_THREADS=1``, or
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
import time

import numba
import numpy as np

from fastnn import kernels
from fastnn.kernels.handover import EPOCHS, HALT, STEPPED, counters

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
    kernel, see :func:`fastnn.kernels.epoch_workers`), and whether each call runs
    one epoch (its fixed cost per call then weighs more per mini-batch)."""
    with _choices_lock:
        if key not in _choices:
            _choices[key] = WorkerChoice()
        return _choices[key]


def on_two_threads(worker_0, worker_1, args, ctl):
    """Run ``worker_1(*args)`` in a helper thread while this thread runs
    ``worker_0(*args)`` (the two take the same arguments); then halt worker 1
    (``ctl[HALT]``), whatever happened to worker 0, and wait for it (its error, if any,
    is raised here). An error in worker 1 halts worker 0 too, which would otherwise
    wait for worker 1's share forever.

    Plain threads rather than Numba's ``prange``: no parallel region to compile (it
    doubled the first fit's compile time), no threading layer to depend on, and worker
    1 starting late or never is harmless (worker 0 then takes its work)."""

    def guarded(*a):
        try:
            worker_1(*a)
        except BaseException:
            ctl[HALT] = 1
            raise

    wait = start_helper(guarded, args)
    try:
        worker_0(*args)
    finally:
        ctl[HALT] = 1
        wait()


_DRIVERS = {}


def drivers(worker_0, worker_1):
    """The one- and two-thread drivers of a scheme's two workers, made once per
    scheme. Each takes the arguments of :func:`fastnn.reference.run_epochs` and returns
    the epochs run. Both pass worker 0 the counters and sums
    (:func:`fastnn.kernels.handover.counters`), so that a process compiles one version
    of it, not two."""
    if (worker_0, worker_1) in _DRIVERS:
        return _DRIVERS[worker_0, worker_1]

    def on_one(*args):
        ctl, acc = shared = counters()
        worker_0(*args, shared)
        return int(ctl[EPOCHS])

    def on_two(*args):
        ctl, acc = shared = counters()
        ctl[STEPPED] = -1  # worker 1 waits until worker 0 has started the first epoch
        on_two_threads(worker_0, worker_1, (*args, shared), ctl)
        return int(ctl[EPOCHS])

    _DRIVERS[worker_0, worker_1] = on_one, on_two
    return on_one, on_two


def epochs_runner(sizes, batch_size, workers, dropout=False, sparse_input=False):
    """The function that runs a fit's epochs on ``workers`` threads (1 or 2, see
    :func:`fit_workers`), with the arguments and result of
    :func:`fastnn.reference.run_epochs`: two threads where ``workers >= 2`` and the
    scheme's second worker pays (:func:`fastnn.kernels.epoch_workers`), else one."""
    worker_0, worker_1, pays = kernels.epoch_workers(sizes, batch_size, dropout, sparse_input)
    on_one, on_two = drivers(worker_0, worker_1)
    return on_two if workers >= 2 and pays else on_one


def two_workers_pay(sizes, batch_size, dropout=False, sparse_input=False):
    """Whether a second thread would run a fit's epochs at all (else one always does)."""
    return kernels.epoch_workers(sizes, batch_size, dropout, sparse_input)[2]


# A call of either engine runs several epochs when Python has nothing to do between
# them: about CALL_SECONDS' worth, so that Ctrl-C stays responsive.
CALL_SECONDS = 0.1
# A deliberately low guess of the numba engine's speed, to size its first call (later
# calls are sized from the time they measure): FLOP/s, and seconds per mini-batch. The
# engine reaches 17 to 70 GFLOP/s on 2 cores. On a machine slower than the guess, the
# first call only runs longer before Ctrl-C is honoured: fits with callbacks or verbose
# output return to Python after every epoch regardless.
GUESSED_FLOPS = 1e10
GUESSED_BATCH_SECONDS = 2e-6


def first_call_epochs(sizes, n_samples, batch_size):
    """How many epochs the numba engine's first call runs: ``CALL_SECONDS``' worth by
    the guessed speed, and at least one. A small fit then takes a single call, where
    sizing the first call from a measured one-epoch call took two (each with its
    dispatch and its hand-over to worker 1)."""
    n_weights = sum(int(a) * int(b) for a, b in zip(sizes[:-1], sizes[1:]))
    n_batches = -(-n_samples // batch_size)
    seconds = 6 * n_samples * n_weights / GUESSED_FLOPS + n_batches * GUESSED_BATCH_SECONDS
    return max(1, int(CALL_SECONDS / seconds))


def next_call_epochs(done, elapsed):
    """How many epochs the next call runs: ``CALL_SECONDS``' worth at the speed the
    last call measured (``done`` epochs in ``elapsed`` seconds), and at least one."""
    return max(1, int(CALL_SECONDS * done / max(elapsed, 1e-9)))


class EpochCalls:
    """The calls that run a fit's epochs, for :func:`fastnn.stochastic.fit_stochastic`:
    how many epochs each runs, and on how many threads.

    Unless ``one_at_a_time`` (Python has work after every epoch), a call runs
    ``CALL_SECONDS``' worth of epochs, timed to size the next call. The numba engine
    sizes its first call by a guess of its speed and runs on the threads
    :class:`WorkerChoice` says where a second one pays (the timings inform the choice).
    The numpy engine's first call runs one epoch, as there is no guess of its speed;
    several epochs a call spare it a round trip of the random generator's state per
    epoch (:func:`fastnn.reference.run_epochs`).

    Parameters
    ----------
    engine : module
        :mod:`fastnn.kernels` or :mod:`fastnn.reference`.
    sizes : ndarray of int64
        Units per layer, input to output.
    batch_size, n_samples : int
        The fit's mini-batch size and training rows.
    dtype : numpy.dtype
        The fit's floating type.
    codes : ndarray of int64
        The activation, loss and solver codes.
    dropout : bool
        Whether any layer drops units (it decides the scheme, see
        :func:`fastnn.kernels.epoch_workers`).
    one_at_a_time : bool
        Whether every call runs one epoch.
    sparse_input : bool, default=False
        Whether ``X`` is sparse (the numba engine has a kernel for it,
        :mod:`fastnn.kernels.sparse`).
    """

    def __init__(self, engine, sizes, batch_size, n_samples, *, dtype, codes, dropout,
                 one_at_a_time, sparse_input=False):  # fmt: skip
        self.per_call = 1
        self._choice = None
        self._sized = False
        if engine is not kernels:
            self._runner = lambda workers: engine.run_epochs
            self.workers = 1
            self._sized = not one_at_a_time
            return
        runners = {}  # by worker count: the scheme is chosen once per fit, not per call

        def runner(workers):
            if workers not in runners:
                runners[workers] = epochs_runner(sizes, batch_size, workers, dropout, sparse_input)
            return runners[workers]

        self._runner = runner
        self.workers = fit_workers()
        if self.workers >= 2 and two_workers_pay(sizes, batch_size, dropout, sparse_input):
            shape = (tuple(int(n) for n in sizes), batch_size, np.dtype(dtype).str, tuple(codes))
            # dropout: with it, a wide network runs the row split, not the unit split;
            # sparse input has a scheme of its own
            self._choice = worker_choice((*shape, dropout, one_at_a_time, sparse_input))
        self._n_batches = -(-n_samples // batch_size)
        if not one_at_a_time:
            self._sized = True
            self.per_call = first_call_epochs(sizes, n_samples, batch_size)

    def run(self, max_epochs, *args):
        """Run up to ``min(per_call, max_epochs)`` epochs: ``args`` and the result are
        those of :func:`fastnn.reference.run_epochs`, whose last argument, ``losses``,
        is cut to the epochs this call runs."""
        workers = self.workers if self._choice is None else self._choice.next_workers()
        run_epochs = self._runner(workers)
        n_epochs = min(self.per_call, max_epochs)
        started = time.perf_counter()
        # Overflow is detected and reported as divergence, not as NumPy warnings.
        with np.errstate(all="ignore"):
            done = run_epochs(*args[:-1], args[-1][:n_epochs])
        elapsed = time.perf_counter() - started
        if self._choice is not None and done > 0:
            self._choice.record(workers, elapsed / (done * self._n_batches))
        if self._sized:
            self.per_call = next_call_epochs(done, elapsed)
        return done
