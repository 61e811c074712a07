"""The two-worker protocol that the epoch schemes share.

A fit's epoch kernel runs as two workers: worker 0, on the calling thread, and worker 1,
on a helper thread (:mod:`fastnn._workers`). Each scheme cuts a mini-batch's work into
*shares*: :mod:`.epoch` into two blocks of rows and two halves of the optimizer step,
:mod:`.split` into two halves of every layer's units, phase by phase, :mod:`.sparse`
into two halves of the first layer's step. Worker 0 opens
each piece of work; the second share of it is claimed by one compare-and-swap on a
counter, by worker 1 or, if worker 0 gets there first, by worker 0 itself. A worker
only ever waits for work that a running worker has claimed, so a worker 1 that starts
late or never (a busy machine, one thread) cannot stall worker 0, and the bits do not
depend on the number of threads: every share is the same arithmetic in the same order
whoever runs it.

This module holds what the schemes use: the named slots of the counters ``ctl`` and
the sums ``acc`` the workers share, waiting and claiming, a batch's rows and its views
of the workspace (:func:`fastnn.layout.workspace`), the batch's weight and the epoch's
loss, and the bookkeeping at each epoch's start and end. Worker 0 alone does the
bookkeeping.
"""

import numpy as np

from fastnn import layout, reference
from fastnn._codes import BATCH_COUNT, CONVERGED, DIVERGED, MONITOR, SEEN, SHUFFLE, STOP
from fastnn._jit import jit
from fastnn.kernels.atomics import atomic_cas, atomic_load, relax
from fastnn.kernels.rng import shuffle
from fastnn.kernels.views import matrix

# Slots of the ``ctl`` counters. In the row scheme (:mod:`.epoch`): batches whose
# second block is CLAIMED, and whose second block worker 1 has DONE; batches released
# to worker 1 (STEPPED: worker 0's share of the step done); batches whose step worker 0
# has made READY (worker 1 may take its half); batches whose second half-step is
# STEP_CLAIMED, and STEP_DONE by worker 1. In the unit scheme (:mod:`.split`): phases
# opened (STEPPED), and their second shares CLAIMED and DONE. In both: the HALT flag
# and the EPOCHS finished. Typed int64, not literals: a literal argument would compile
# one more copy of its callee.
N_CTL = 8
CLAIMED, DONE, STEPPED, HALT, EPOCHS, READY, STEP_CLAIMED, STEP_DONE = np.arange(N_CTL)

# Slots of the ``acc`` sums: the epoch's loss so far; the batch's summed data loss
# (the row scheme's first block; the unit scheme's whole batch) and the row scheme's
# second block's; the batch's weight (the row scheme); the squared weights of each
# share's parameters before the step (the L2 penalty of the batch's loss).
N_ACC = 6
EPOCH_LOSS, LOSS, SECOND_LOSS, WEIGHT, SQUARES, SECOND_SQUARES = range(N_ACC)

# Spins on a counter before a waiting worker starts calling ``sched_yield`` (a few
# microseconds): a hand-over usually comes sooner, and a wait that has entered the
# system call notices it later. Measured against 64 spins, in one process alternating
# fit by fit: digits and moons about 1% faster.
SPINS = 4096

# The bookkeeping after each epoch is scalar code on ``scalars``: one source, compiled
# here and run as plain Python by the reference.
epoch_end = jit(reference.epoch_end)

# The workspace's table of slots (:func:`fastnn.layout.workspace`), compiled: the
# kernels take their views of ``work`` from it. Not inlined: it is called from several
# sites, and typing its loops and tuples at each made the first fit's compile about 5%
# longer (a new process, empty cache, pairs A B: wall time 1.06x inlined, 1.00-1.02x not,
# against e0fd85f's hand-written views). Each call makes the table once (the row
# scheme hands it to every block), not once per batch.
workspace = jit(layout.workspace, internal=True)


def counters():
    """New, zeroed ``ctl`` counters and ``acc`` sums for one call of an epoch kernel."""
    return np.zeros(N_CTL, dtype=np.int64), np.zeros(N_ACC, dtype=np.float64)


@jit(internal=True)
def wait(ctl, slot, value):
    """Wait until ``ctl[slot] >= value``; False if training stopped instead."""
    spins = 0
    while atomic_load(ctl, slot) < value:
        if atomic_load(ctl, HALT) != 0:
            return False
        spins += 1
        if spins >= SPINS:
            relax()
    return True


@jit(inline=True)
def claim(ctl, slot, count):
    """Claim piece ``count`` of the work ``slot`` counts (its second share): True for
    the one worker whose compare-and-swap takes ``ctl[slot]`` from ``count`` on."""
    return atomic_cas(ctl, slot, count, count + 1)


@jit(inline=True)
def aligned_half(n):
    """Half of ``n``, rounded down to a multiple of 16 entries (64 bytes of float32):
    where two shares of a vector meet, so that no cache line holds both."""
    return (n // 2) // 16 * 16


@jit(inline=True)
def batch_rows(b, n, batch_size):
    """Batch ``b`` of a run over ``n`` rows (batches counted on across epochs): its
    first position in the row order, and its number of rows (the last may be short)."""
    start = (b % ((n + batch_size - 1) // batch_size)) * batch_size
    return start, min(batch_size, n - start)


@jit(inline=True)
def batch_views(work, slots, nb, n_in, n_out):
    """The views ``Xb``, ``Yb`` and ``swb`` of an ``nb``-row batch in ``work``."""
    starts, _ = slots
    X_start, Y_start = starts[layout.X_BATCH], starts[layout.Y_BATCH]
    sw_start = starts[layout.SW_BATCH]
    Xb = matrix(work[X_start:], nb, n_in)
    Yb = matrix(work[Y_start:], nb, n_out)
    return Xb, Yb, work[sw_start : sw_start + nb]


@jit(inline=True)
def slot(work, slots, name):
    """The whole slot ``name`` of ``work`` (:func:`fastnn.layout.workspace`)."""
    starts, lengths = slots
    return work[starts[name] : starts[name] + lengths[name]]


@jit(internal=True)
def gather(data, start, r0, r1, batch):
    """Copy the rows ``idx[start + r0 : start + r1]`` of ``data = (X, Y, sw, idx)`` into
    rows ``r0:r1`` of ``batch = (Xb, Yb, swb)``."""
    X, Y, sw, idx = data
    Xb, Yb, swb = batch
    for r in range(r0, r1):
        row = idx[start + r]
        for c in range(X.shape[1]):
            Xb[r, c] = X[row, c]
        for c in range(Y.shape[1]):
            Yb[r, c] = Y[row, c]
        swb[r] = sw[row]


@jit(inline=True)
def add_batch_loss(acc, loss, squares, alpha, sw_sum, nb):
    """Add a batch's loss to the epoch's, weighted by its rows: its data term ``loss``
    plus its L2 penalty, from the sum of the squared weights before the step."""
    acc[EPOCH_LOSS] += (loss + 0.5 * alpha * squares / sw_sum) * nb


@jit(internal=True)
def copy(src, dst):
    """``dst[:] = src`` as a loop: Numba's slice assignment compiles broadcasting code
    that costs about a second of compile time per use."""
    for k in range(src.shape[0]):
        dst[k] = src[k]


@jit(inline=True)
def start_epoch(idx, theta, state, scalars, rng_state):
    """Save the weights (restored if the epoch diverges) and shuffle the rows."""
    _, counts = scalars
    copy(theta, state[state.shape[0] - theta.shape[0] :])
    if counts[SHUFFLE] != 0:
        shuffle(idx, rng_state)


@jit(inline=True)
def end_batch(b, per_epoch, idx, params, scalars, rng_state, losses, shared):
    """After batch ``b``: if it ended an epoch, that epoch's loss (into ``losses``, one
    entry per epoch of the call), divergence check and stopping rule, then the next
    epoch's start. Returns True if training stops."""
    _, counts = scalars
    theta, _, state = params
    ctl, acc = shared
    n_epochs = losses.shape[0]
    halt = False
    if (b + 1) % per_epoch == 0:
        n = idx.shape[0]
        epoch = b // per_epoch
        epoch_loss = acc[EPOCH_LOSS] / n
        acc[EPOCH_LOSS] = 0.0
        losses[epoch] = epoch_loss
        counts[SEEN] += n
        ctl[EPOCHS] = epoch + 1
        if not np.isfinite(epoch_loss):
            copy(state[state.shape[0] - theta.shape[0] :], theta)
            counts[STOP] = DIVERGED
            halt = True
        elif counts[MONITOR] != 0:
            epoch_end(scalars, epoch_loss)
            halt = counts[STOP] == CONVERGED
        if not halt and epoch + 1 < n_epochs:
            start_epoch(idx, theta, state, scalars, rng_state)
    if not halt and b + 1 < n_epochs * per_epoch:
        counts[BATCH_COUNT] += 1
    return halt
