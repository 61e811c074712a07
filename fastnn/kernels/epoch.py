"""The epoch kernels: every mini-batch of one or several epochs in one compiled call.

Two workers, one batch
----------------------
:func:`run_epochs` splits each mini-batch into ``batch_parts`` blocks of rows (one or
two, chosen from the shapes alone). Worker 0 runs every batch's first block and every
epoch's bookkeeping (loss, divergence, stopping rule, next shuffle). Worker 1 runs a
batch's second block once worker 0 has released the batch: once it has stepped its share
of the batch before (and, after an epoch's last batch, started the next epoch). The
optimizer step is elementwise, so the two share it: worker 0 the first half of the
parameters, worker 1 the second, each finishing the gradient and stepping its share.
Each share of work (a second block, a second half-step) is claimed by one
compare-and-swap on a counter, by worker 1 or, if worker 0 gets there first, by worker
0 itself: a worker only ever waits for work that a running worker has claimed, so a
worker 1 that starts late or never (a busy machine, one thread) cannot stall worker 0.

Every block, sum and step is the same arithmetic in the same order whoever runs it, so
the result does not depend on the number of threads: :func:`run_epochs` (worker 0
alone) and :func:`run_epochs_2` (worker 1 in a second thread) give the same bits.
Worker 1 starts once per call, never per batch: the per-batch hand-over is a few atomic
operations on counters (:mod:`._sync`), and nothing is allocated per mini-batch.
"""

import numpy as np

from fastnn import _threads, reference
from fastnn._codes import (
    ALPHA,
    BATCH_COUNT,
    BATCH_SIZE,
    CONVERGED,
    DIVERGED,
    MONITOR,
    OUTPUT,
    SEEN,
    SHUFFLE,
    STOP,
)
from fastnn._jit import jit
from fastnn.kernels._sync import atomic_cas, atomic_load, atomic_store, relax
from fastnn.kernels.dense import (
    ACTIVATIONS,
    FIRST,
    backward_rows,
    batch_loss_grad,
    count_weights,
    finish_range,
    forward_rows,
    layer_buffer,
)
from fastnn.kernels.losses import loss_sum, mean_loss
from fastnn.kernels.optim import optimizer_step, step_range, step_scalars
from fastnn.kernels.rng import shuffle

# The bookkeeping after each epoch is scalar code on ``scalars``: one source, compiled
# here and run as plain Python by the reference.
epoch_end = jit(reference.epoch_end)

# A batch is split in two blocks of rows when each block has at least PART_MIN_ROWS
# rows and the batch at least PART_MIN_WORK multiply-adds per pass (rows times
# weights): below that, the hand-over between workers costs more than it saves.
# Measured on 2 cores: moons (64 rows x 4,288 weights) and digits (32 x 16,896) gain
# 10-20% on two workers; circles (32 x 1,088) loses 10-40%.
PART_MIN_ROWS = 16
PART_MIN_WORK = 200_000

# Slots of the ``ctl`` counters: batches whose second block is claimed; batches whose
# second block worker 1 finished; batches released to worker 1 (worker 0's share
# stepped, and the second share stepped or claimed by worker 1); the stop flag; epochs
# finished; batches whose step worker 0 has prepared (worker 1 may take its half);
# batches whose second half-step is claimed; and finished by worker 1. Typed int64,
# not literals: a literal argument would compile one more copy of its callee.
N_CTL = 8
CLAIMED, DONE, STEPPED, HALT, EPOCHS, READY, STEP_CLAIMED, STEP_DONE = np.arange(N_CTL)
# Slots of the ``acc`` sums: the epoch's loss, the two blocks' losses, the batch's
# weight, worker 1's squared weights.
N_ACC = 5
# Block numbers (FIRST is also the first index), int64 for the same reason.
SECOND = np.int64(1)
# Spins on a counter before a waiting worker starts calling ``sched_yield`` (a few
# microseconds): a hand-over usually comes sooner, and a wait that has entered the
# system call notices it later. Measured against 64 spins, in one process alternating
# fit by fit: digits and moons about 1% faster.
SPINS = 4096


@jit
def batch_parts(sizes, batch_size):
    """How many blocks of rows each mini-batch is split into: 1 or 2."""
    n_weights = count_weights(sizes)
    if batch_size >= 2 * PART_MIN_ROWS and batch_size * n_weights >= PART_MIN_WORK:
        return 2
    return 1


@jit(internal=True)
def _buffers(work, batch_size, n_in, n_out, sizes, n_params):
    """Views of ``work``: room for one batch of ``X``, ``Y`` and ``sw`` rows, the layer
    buffers of :mod:`.dense`, a second gradient for a batch's second block, and the
    rest: scratch space for :func:`.dense.backpropagate` (see :func:`_block_scratch`)."""
    B = batch_size
    units = 0
    for j in range(1, sizes.shape[0]):
        units += sizes[j]
    X_buf = work[: B * n_in]
    Y_buf = work[B * n_in : B * (n_in + n_out)]
    sw_buf = work[B * (n_in + n_out) : B * (n_in + n_out + 1)]
    start = B * (n_in + n_out + 1)
    layers = work[start : start + 2 * B * units]
    other = work[start + 2 * B * units : start + 2 * B * units + n_params]
    scratch = work[start + 2 * B * units + n_params :]
    return X_buf, Y_buf, sw_buf, layers, other, scratch


@jit(internal=True)
def _block_scratch(scratch, sizes, r0, r1):
    """The part of ``scratch`` for the block of rows ``r0:r1``: blocks never share any."""
    widest = 0
    for j in range(1, sizes.shape[0]):
        widest = max(widest, sizes[j])
    return scratch[2 * widest * r0 : 2 * widest * r1]


@jit(internal=True)
def _gather(X, Y, sw, idx, start, r0, r1, Xb, Yb, swb):
    """Copy the rows ``idx[start + r0 : start + r1]`` into rows ``r0:r1`` of the batch."""
    for r in range(r0, r1):
        row = idx[start + r]
        for c in range(X.shape[1]):
            Xb[r, c] = X[row, c]
        for c in range(Y.shape[1]):
            Yb[r, c] = Y[row, c]
        swb[r] = sw[row]


@jit
def run_epoch(X, Y, sw, idx, batch_size, sizes, theta, grad, state, scalars, codes, work):
    """Train on the rows ``idx`` in mini-batches of ``batch_size`` (the last may be
    shorter); return the sum over batches of ``batch loss * batch length``.

    ``work`` is laid out as :func:`fastnn.layout.work_size` says (with ``gather``).
    This is the one-thread, one-block textbook loop; :func:`run_epochs` runs the same
    math in blocks of rows.
    """
    n = idx.shape[0]
    n_in = X.shape[1]
    n_out = Y.shape[1]
    X_buf, Y_buf, sw_buf, layers, _, _ = _buffers(
        work, batch_size, n_in, n_out, sizes, theta.shape[0]
    )
    total = 0.0
    for start in range(0, n, batch_size):
        nb = min(batch_size, n - start)
        Xb = X_buf[: nb * n_in].reshape((nb, n_in))
        Yb = Y_buf[: nb * n_out].reshape((nb, n_out))
        swb = sw_buf[:nb]
        scalars[BATCH_COUNT] += 1
        _gather(X, Y, sw, idx, start, 0, nb, Xb, Yb, swb)
        loss = batch_loss_grad(Xb, Yb, swb, sizes, theta, grad, scalars, codes, layers)
        total += loss * nb
        optimizer_step(theta, grad, state, scalars, codes)
    return total


@jit(internal=True)
def _wait(ctl, slot, value):
    """Wait until ``ctl[slot] >= value``; False if training stopped instead."""
    spins = 0
    while atomic_load(ctl, slot) < value:
        if atomic_load(ctl, HALT) != 0:
            return False
        spins += 1
        if spins >= SPINS:
            relax()
    return True


@jit(internal=True)
def _update(grad, other, parts, theta, n_weights, sw_sum, state, scalars, codes, k0, k1):
    """Finish the gradient (:func:`.dense.finish_range`) and step the parameters
    ``k0:k1``. Returns the sum of the squared weights among them before the step (for
    the L2 penalty of the batch's loss)."""
    W = theta[k0 : max(k0, min(k1, n_weights))]
    squares = np.dot(W, W)  # BLAS dot, as losses.penalty
    finish_range(grad, other, parts, theta, n_weights, scalars[ALPHA], sw_sum, k0, k1)
    step_range(theta, grad, state, scalars, codes, k0, k1)
    return squares


@jit(internal=True)
def _split_point(n):
    """Where the two workers' shares of a step meet (on a 128-byte boundary)."""
    return (n // 2) // 16 * 16


@jit(inline=True)
def _step(b, nb, parts, release, sizes, theta, grad, other, state, scalars, codes, ctl, acc):
    """Batch ``b``'s blocks are done: finish the gradient and step the optimizer,
    sharing the elementwise work with worker 1 when ``parts == 2``, and add the batch's
    loss (its penalty from the weights before the step) to the epoch's.

    With ``release`` (a batch within an epoch, two blocks), the next batch is released
    to worker 1 as soon as this worker's share of the step is done: worker 1 finishes
    its own share before it looks, so it need not also wait for this batch's loss."""
    n = theta.shape[0]
    n_weights = count_weights(sizes)
    sw_sum = acc[3]
    total = acc[1] + acc[2] if parts == 2 else acc[1]  # before worker 1 may write acc[2]
    step_scalars(scalars, codes)
    if parts == 2:
        split = _split_point(n)
        atomic_store(ctl, READY, b + 1)
        squares = _update(
            grad, other, parts, theta, n_weights, sw_sum, state, scalars, codes, FIRST, split
        )
        mine = atomic_cas(ctl, STEP_CLAIMED, b, b + 1)
        if mine:
            acc[4] = _update(
                grad, other, parts, theta, n_weights, sw_sum, state, scalars, codes, split, n
            )
        if release:
            scalars[BATCH_COUNT] += 1
            atomic_store(ctl, STEPPED, b + 1)
        if not mine:
            _wait(ctl, STEP_DONE, b + 1)
        squares += acc[4]
    else:
        squares = _update(
            grad, other, parts, theta, n_weights, sw_sum, state, scalars, codes, FIRST, n
        )
    loss = mean_loss(total, sw_sum, sizes[sizes.shape[0] - 1], codes[OUTPUT])
    acc[0] += (loss + 0.5 * scalars[ALPHA] * squares / sw_sum) * nb


@jit(inline=True)
def _epoch_end(b, n_epochs, per_epoch, idx, theta, state, scalars, rng_state, losses, ctl, acc):
    """After batch ``b``: if it ended an epoch, that epoch's loss, divergence check and
    stopping rule, then the next epoch's start. Returns True if training stops."""
    halt = False
    if (b + 1) % per_epoch == 0:
        n = idx.shape[0]
        epoch = b // per_epoch
        epoch_loss = acc[0] / n
        acc[0] = 0.0
        losses[epoch] = epoch_loss
        scalars[SEEN] += n
        ctl[EPOCHS] = epoch + 1
        if not np.isfinite(epoch_loss):
            _copy(state[state.shape[0] - theta.shape[0] :], theta)
            scalars[STOP] = DIVERGED
            halt = True
        elif scalars[MONITOR] != 0:
            epoch_end(scalars, epoch_loss)
            halt = scalars[STOP] == CONVERGED
        if not halt and epoch + 1 < n_epochs:
            _start_epoch(idx, theta, state, scalars, rng_state)
    if not halt and b + 1 < n_epochs * per_epoch:
        scalars[BATCH_COUNT] += 1
    return halt


@jit(internal=True)
def _copy(src, dst):
    """``dst[:] = src`` as a loop: Numba's slice assignment compiles broadcasting code
    that costs about a second of compile time per use."""
    for k in range(src.shape[0]):
        dst[k] = src[k]


@jit(inline=True)
def _start_epoch(idx, theta, state, scalars, rng_state):
    """Save the weights (restored if the epoch diverges) and shuffle the rows."""
    _copy(theta, state[state.shape[0] - theta.shape[0] :])
    if scalars[SHUFFLE] != 0:
        shuffle(idx, rng_state)


@jit(inline=True)
def _block(b, h, parts, X, Y, sw, idx, sizes, theta, g, scalars, codes, work, acc):
    """Gather and run block ``h`` of batch ``b`` (its summed gradient into ``g``, its
    summed loss into ``acc[1 + h]``)."""
    n = idx.shape[0]
    n_in = X.shape[1]
    n_out = Y.shape[1]
    B = np.int64(scalars[BATCH_SIZE])
    start = (b % ((n + B - 1) // B)) * B
    nb = min(B, n - start)
    mid = (nb + 1) // 2 if parts == 2 else nb
    r0 = 0 if h == 0 else mid
    r1 = mid if h == 0 else nb
    X_buf, Y_buf, sw_buf, layers, _, scratch = _buffers(work, B, n_in, n_out, sizes, theta.shape[0])
    Xb = X_buf[: nb * n_in].reshape((nb, n_in))
    Yb = Y_buf[: nb * n_out].reshape((nb, n_out))
    swb = sw_buf[:nb]
    _gather(X, Y, sw, idx, start, r0, r1, Xb, Yb, swb)
    if r1 > r0:
        # dense.rows_loss_grad, spelled out: one level fewer of compiled calls (each
        # level re-optimises everything it calls, which costs compile time).
        Xr, Yr, swr = Xb[r0:r1], Yb[r0:r1], swb[r0:r1]
        forward_rows(Xr, sizes, theta, codes, scalars, layers, r0, r1, nb)
        A_out = layer_buffer(layers, sizes, sizes.shape[0] - 2, nb, ACTIVATIONS)[r0:r1]
        acc[1 + h] = loss_sum(A_out, Yr, swr, codes[OUTPUT])
        mine = _block_scratch(scratch, sizes, r0, r1)
        backward_rows(Xr, Yr, swr, sizes, theta, g, scalars, codes, layers, r0, r1, nb, mine)
    else:
        for k in range(g.shape[0]):
            g[k] = 0
        acc[1 + h] = 0.0
    return nb


@jit
def _helper(X, Y, sw, idx, n_epochs, parts, sizes, theta, grad, state, scalars, codes, work,
            ctl, acc):  # fmt: skip
    """Worker 1: the second block of each batch it claims before worker 0 does, and
    then the second half of that batch's step if it claims that too."""
    n = idx.shape[0]
    n_params = theta.shape[0]
    B = np.int64(scalars[BATCH_SIZE])
    n_batches = n_epochs * ((n + B - 1) // B)
    _, _, _, _, other, _ = _buffers(work, B, X.shape[1], Y.shape[1], sizes, n_params)
    n_weights = count_weights(sizes)
    split = _split_point(n_params)
    b = 0
    while b < n_batches:
        if not _wait(ctl, STEPPED, b):
            return
        if not atomic_cas(ctl, CLAIMED, b, b + 1):
            b = atomic_load(ctl, CLAIMED)  # worker 0 ran it (this worker started late)
            continue
        _block(b, SECOND, parts, X, Y, sw, idx, sizes, theta, other, scalars, codes, work, acc)
        atomic_store(ctl, DONE, b + 1)
        if not _wait(ctl, READY, b + 1):
            return
        if atomic_cas(ctl, STEP_CLAIMED, b, b + 1):
            acc[4] = _update(
                grad, other, parts, theta, n_weights, acc[3], state, scalars, codes, split,
                n_params,
            )  # fmt: skip
            atomic_store(ctl, STEP_DONE, b + 1)
        b += 1


@jit
def run_epochs(
    X, Y, sw, idx, n_epochs, sizes, theta, grad, state, scalars, codes, work, rng_state, losses,
    ctl=None, acc=None,
):  # fmt: skip
    """Run up to ``n_epochs`` epochs in one call; return how many ran.

    Same meaning as :func:`fastnn.reference.run_epochs`; the shuffle continues NumPy's
    Mersenne Twister stream in ``rng_state`` (see :mod:`.rng`). ``work`` is laid out as
    :func:`fastnn.layout.work_size` says (with ``gather``).

    This is worker 0: every batch's first block (of :func:`batch_parts`), the second too
    unless worker 1 claimed it first, the optimizer's steps (shared with worker 1) and
    every epoch's bookkeeping. Alone, it runs every block itself. :func:`run_epochs_2`
    passes the counters ``ctl`` and sums ``acc`` it shares with worker 1; otherwise they
    are allocated here (two small arrays per call).
    """
    if ctl is None:
        ctl = np.zeros(N_CTL, dtype=np.int64)
    if acc is None:
        acc = np.zeros(N_ACC, dtype=np.float64)
    n = idx.shape[0]
    B = np.int64(scalars[BATCH_SIZE])
    parts = batch_parts(sizes, B)
    per_epoch = (n + B - 1) // B
    _, _, sw_buf, _, other, _ = _buffers(work, B, X.shape[1], Y.shape[1], sizes, theta.shape[0])
    _start_epoch(idx, theta, state, scalars, rng_state)
    scalars[BATCH_COUNT] += 1
    atomic_store(ctl, STEPPED, 0)  # batch 0 released: worker 1 may start
    for b in range(n_epochs * per_epoch):
        # One call site for _block, which is inlined (fastnn/_jit.py: INLINE).
        nb = 0
        claimed = True
        for h in range(parts):
            if h == SECOND:
                claimed = atomic_cas(ctl, CLAIMED, b, b + 1)
                if not claimed:
                    break  # worker 1 runs it
            g = grad if h == FIRST else other
            nb = _block(b, h, parts, X, Y, sw, idx, sizes, theta, g, scalars, codes, work, acc)
        if not claimed and not _wait(ctl, DONE, b + 1):
            break  # halted: worker 1 failed
        sw_sum = 0.0
        for r in range(nb):
            sw_sum += sw_buf[r]
        acc[3] = sw_sum
        release = parts == 2 and (b + 1) % per_epoch != 0
        _step(b, nb, parts, release, sizes, theta, grad, other, state, scalars, codes, ctl, acc)
        if release:  # _step counted the batch and released the next one
            continue
        halt = _epoch_end(
            b, n_epochs, per_epoch, idx, theta, state, scalars, rng_state, losses, ctl, acc
        )
        if halt:
            atomic_store(ctl, HALT, 1)
            break
        atomic_store(ctl, STEPPED, b + 1)
    return ctl[EPOCHS]


def run_epochs_2(
    X, Y, sw, idx, n_epochs, sizes, theta, grad, state, scalars, codes, work, rng_state, losses
):
    """:func:`run_epochs` on two threads, with the same bits: worker 1 runs in a
    helper thread (:func:`fastnn._threads.start_helper`; the kernels release the GIL)
    while this thread runs worker 0.

    Plain threads rather than Numba's ``prange``: no parallel region to compile (it
    doubled the first fit's compile time), no threading layer to depend on, and worker
    1 starting late or never is harmless (worker 0 then takes its work).
    """
    ctl = np.zeros(N_CTL, dtype=np.int64)
    ctl[STEPPED] = -1  # worker 1 waits until run_epochs has started the first epoch
    acc = np.zeros(N_ACC, dtype=np.float64)
    parts = batch_parts(sizes, np.int64(scalars[BATCH_SIZE]))
    helper_args = (X, Y, sw, idx, n_epochs, parts, sizes, theta, grad, state, scalars, codes,
                   work, ctl, acc)  # fmt: skip
    args = (X, Y, sw, idx, n_epochs, sizes, theta, grad, state, scalars, codes, work, rng_state,
            losses, ctl, acc)  # fmt: skip
    return on_two_threads(run_epochs, args, _helper, helper_args, ctl)


def on_two_threads(worker_0, args, worker_1, helper_args, ctl):
    """Run ``worker_1(*helper_args)`` in a helper thread while this thread runs
    ``worker_0(*args)``; then halt worker 1 (``ctl[HALT]``), whatever happened to worker
    0, and wait for it (its error, if any, is raised here). Returns the epochs run
    (``ctl[EPOCHS]``). An error in worker 1 halts worker 0 too, which would otherwise
    wait for worker 1's share forever."""

    def guarded(*a):
        try:
            worker_1(*a)
        except BaseException:
            ctl[HALT] = 1
            raise

    wait = _threads.start_helper(guarded, helper_args)
    try:
        worker_0(*args)
    finally:
        ctl[HALT] = 1
        wait()
    return int(ctl[EPOCHS])


def run_epochs_1(
    X, Y, sw, idx, n_epochs, sizes, theta, grad, state, scalars, codes, work, rng_state, losses
):
    """:func:`run_epochs` on this thread, through the same compiled version (counters
    passed in) as :func:`run_epochs_2`, so that a process compiles one, not two."""
    ctl = np.zeros(N_CTL, dtype=np.int64)
    acc = np.zeros(N_ACC, dtype=np.float64)
    run_epochs(X, Y, sw, idx, n_epochs, sizes, theta, grad, state, scalars, codes, work,
               rng_state, losses, ctl, acc)  # fmt: skip
    return int(ctl[EPOCHS])


def epochs_kernel(sizes, batch_size, workers, dropout=False):
    """The epoch kernel for a fit on ``workers`` threads (1 or 2, see
    :func:`fastnn._threads.fit_workers`): the model-parallel kernels of :mod:`.split`
    where :func:`.split.splits_units` says so; else :func:`run_epochs_2` where batches
    are split in two blocks and two threads may run, else :func:`run_epochs_1`. The
    scheme follows from the shapes alone, so one or two threads give the same bits."""
    from fastnn.kernels import split  # built on this module

    if split.splits_units(sizes, batch_size, dropout):
        return split.run_epochs_2 if workers >= 2 else split.run_epochs_1
    if workers >= 2 and batch_parts(sizes, batch_size) == 2:
        return run_epochs_2
    return run_epochs_1
