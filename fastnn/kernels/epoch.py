"""The epoch kernels: every mini-batch of one or several epochs in one compiled call.

Two workers, one batch
----------------------
:func:`run_epochs` splits each mini-batch into ``batch_parts`` blocks of rows (one or
two, chosen from the shapes alone). Each block's forward and backward pass is a
*ticket*; ticket ``k`` is block ``k % parts`` of batch ``k // parts``, counting batches
across all the call's epochs. A worker takes the next ticket with an atomic
fetch-and-add, waits until the previous batch's optimizer step is done, gathers its
rows, and runs them. The worker that completes a batch's last block sums the blocks'
gradients, steps the optimizer and, after an epoch's last batch, does the epoch's
bookkeeping (loss, divergence, stopping rule, next shuffle); then it releases the next
batch.

With two threads the blocks of a batch run at the same time; with one, the single
worker takes every ticket in turn. Either way every block, sum and step is the same
arithmetic in the same order, so the result does not depend on the number of threads
(nor on which thread ran what). A worker only ever waits for work that a running worker
has already taken, so a worker that never starts (a busy machine, one thread, a
threading layer that runs the two in turn) cannot stall the other.

The parallel launch is one per call, never per batch: the per-batch synchronisation is
two atomic counters (:mod:`._sync`), and nothing is allocated per mini-batch.
"""

import numpy as np
from numba import prange

from fastnn import reference
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
    WORKERS,
)
from fastnn._jit import jit
from fastnn.kernels._sync import atomic_add, atomic_load, atomic_store, relax
from fastnn.kernels.dense import batch_loss_grad, finish_gradient, rows_loss_grad
from fastnn.kernels.losses import mean_loss, penalty
from fastnn.kernels.optim import optimizer_step
from fastnn.kernels.rng import shuffle

# The bookkeeping after each epoch is scalar code on ``scalars``: one source, compiled
# here and run as plain Python by the reference.
epoch_end = jit(reference.epoch_end)

# A batch is split in two blocks of rows when each block has at least PART_MIN_ROWS
# rows and the batch at least PART_MIN_WORK multiply-adds per pass (rows times
# weights): below that, the hand-over between workers costs more than it saves.
PART_MIN_ROWS = 8
PART_MIN_WORK = 32_768

# Slots of the ``ctl`` counters: tickets taken, blocks done, batches stepped (released),
# stop flag, epochs finished.
CLAIMED, DONE, STEPPED, HALT, EPOCHS = range(5)
# Spins on a counter before each ``sched_yield`` while waiting.
SPINS = 64


@jit
def batch_parts(sizes, batch_size):
    """How many blocks of rows each mini-batch is split into: 1 or 2."""
    n_weights = 0
    for i in range(sizes.shape[0] - 1):
        n_weights += sizes[i] * sizes[i + 1]
    if batch_size >= 2 * PART_MIN_ROWS and batch_size * n_weights >= PART_MIN_WORK:
        return 2
    return 1


@jit
def _buffers(work, batch_size, n_in, n_out, sizes, n_params):
    """Views of ``work``: room for one batch of ``X``, ``Y`` and ``sw`` rows, the layer
    buffers of :mod:`.dense`, and a second gradient for a batch's second block."""
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
    return X_buf, Y_buf, sw_buf, layers, other


@jit
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
    X_buf, Y_buf, sw_buf, layers, _ = _buffers(work, batch_size, n_in, n_out, sizes, theta.shape[0])
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


@jit
def _wait(ctl, b):
    """Wait until batch ``b`` is released; False if training stopped instead."""
    spins = 0
    while atomic_load(ctl, STEPPED) < b:
        if atomic_load(ctl, HALT) != 0:
            return False
        spins += 1
        if spins >= SPINS:
            relax()
    return atomic_load(ctl, HALT) == 0


@jit
def _finish_batch(b, nb, parts, n_epochs, per_epoch, n_out, sw_buf, idx, sizes, theta, grad,
                  other, state, scalars, codes, rng_state, losses, ctl, acc):  # fmt: skip
    """Batch ``b``'s last block is done: sum the blocks, step the optimizer and, after
    an epoch's last batch, do the epoch's bookkeeping. Returns True if training stops."""
    n = idx.shape[0]
    sw_sum = 0.0
    for r in range(nb):
        sw_sum += sw_buf[r]
    alpha = scalars[ALPHA]
    total = acc[1] + acc[2] if parts == 2 else acc[1]
    loss = mean_loss(total, sw_sum, n_out, codes[OUTPUT]) + penalty(theta, sizes, alpha, sw_sum)
    finish_gradient(grad, other, parts, theta, sizes, alpha, sw_sum)
    acc[0] += loss * nb
    optimizer_step(theta, grad, state, scalars, codes)
    halt = False
    if (b + 1) % per_epoch == 0:
        epoch = b // per_epoch
        epoch_loss = acc[0] / n
        acc[0] = 0.0
        losses[epoch] = epoch_loss
        scalars[SEEN] += n
        ctl[EPOCHS] = epoch + 1
        saved = state[state.shape[0] - theta.shape[0] :]
        if not np.isfinite(epoch_loss):
            theta[:] = saved
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


@jit
def _start_epoch(idx, theta, state, scalars, rng_state):
    """Save the weights (restored if the epoch diverges) and shuffle the rows."""
    state[state.shape[0] - theta.shape[0] :] = theta
    if scalars[SHUFFLE] != 0:
        shuffle(idx, rng_state)


@jit
def _train(X, Y, sw, idx, n_epochs, parts, sizes, theta, grad, state, scalars, codes, work,
           rng_state, losses, ctl, acc):  # fmt: skip
    """One worker: take tickets (blocks of batches) until every batch of ``n_epochs``
    epochs is done or training stops. See the module's docstring."""
    n = idx.shape[0]
    n_in = X.shape[1]
    n_out = Y.shape[1]
    B = np.int64(scalars[BATCH_SIZE])
    per_epoch = (n + B - 1) // B
    n_batches = n_epochs * per_epoch
    X_buf, Y_buf, sw_buf, layers, other = _buffers(work, B, n_in, n_out, sizes, theta.shape[0])
    while True:
        k = atomic_add(ctl, CLAIMED, 1)
        b = k // parts
        h = k - b * parts
        if b >= n_batches or not _wait(ctl, b):
            return
        start = (b % per_epoch) * B
        nb = min(B, n - start)
        mid = (nb + 1) // 2 if parts == 2 else nb
        r0 = 0 if h == 0 else mid
        r1 = mid if h == 0 else nb
        Xb = X_buf[: nb * n_in].reshape((nb, n_in))
        Yb = Y_buf[: nb * n_out].reshape((nb, n_out))
        swb = sw_buf[:nb]
        g = grad if h == 0 else other
        _gather(X, Y, sw, idx, start, r0, r1, Xb, Yb, swb)
        if r1 > r0:
            acc[1 + h] = rows_loss_grad(
                Xb[r0:r1], Yb[r0:r1], swb[r0:r1], sizes, theta, g, scalars, codes, layers,
                r0, r1, nb,
            )  # fmt: skip
        else:
            g[:] = 0
            acc[1 + h] = 0.0
        if atomic_add(ctl, DONE, 1) + 1 == (b + 1) * parts:
            halt = _finish_batch(
                b, nb, parts, n_epochs, per_epoch, n_out, sw_buf, idx, sizes, theta, grad,
                other, state, scalars, codes, rng_state, losses, ctl, acc,
            )  # fmt: skip
            if halt:
                atomic_store(ctl, HALT, 1)
            atomic_store(ctl, STEPPED, b + 1)


@jit(parallel=True)
def _train_2(X, Y, sw, idx, n_epochs, parts, sizes, theta, grad, state, scalars, codes, work,
             rng_state, losses, ctl, acc):  # fmt: skip
    """Two :func:`_train` workers at once (Numba's ``prange``: one launch per call)."""
    for _ in prange(2):
        _train(X, Y, sw, idx, n_epochs, parts, sizes, theta, grad, state, scalars, codes,
               work, rng_state, losses, ctl, acc)  # fmt: skip


@jit
def run_epochs(
    X, Y, sw, idx, n_epochs, sizes, theta, grad, state, scalars, codes, work, rng_state, losses
):
    """Run up to ``n_epochs`` epochs in one call; return how many ran.

    Same meaning as :func:`fastnn.reference.run_epochs`; the shuffle continues NumPy's
    Mersenne Twister stream in ``rng_state`` (see :mod:`.rng`). Each mini-batch runs as
    :func:`batch_parts` blocks of rows, on two threads when ``scalars[WORKERS] >= 2``
    (see the module's docstring). ``work`` is laid out as
    :func:`fastnn.layout.work_size` says (with ``gather``).
    """
    parts = batch_parts(sizes, np.int64(scalars[BATCH_SIZE]))
    # Counters and per-block losses for the workers: one small allocation per call.
    ctl = np.zeros(5, dtype=np.int64)
    acc = np.zeros(3, dtype=np.float64)
    _start_epoch(idx, theta, state, scalars, rng_state)
    scalars[BATCH_COUNT] += 1
    if parts == 2 and scalars[WORKERS] >= 2:
        _train_2(X, Y, sw, idx, n_epochs, parts, sizes, theta, grad, state, scalars, codes,
                 work, rng_state, losses, ctl, acc)  # fmt: skip
    else:
        _train(X, Y, sw, idx, n_epochs, parts, sizes, theta, grad, state, scalars, codes,
               work, rng_state, losses, ctl, acc)  # fmt: skip
    return ctl[EPOCHS]
