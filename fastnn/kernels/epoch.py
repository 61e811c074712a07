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
the result does not depend on the number of threads: :func:`run_epochs` alone and
:func:`run_epochs` with :func:`helper` in a second thread give the same bits. The
hand-over is :mod:`.handover`'s, shared with the unit scheme (:mod:`.split`); the
drivers that start the threads are :mod:`fastnn._workers`'.
Worker 1 starts once per call, never per batch: the per-batch hand-over is a few atomic
operations on counters (:mod:`.atomics`), and nothing is allocated per mini-batch.
"""

import numpy as np

from fastnn import layout
from fastnn._codes import ALPHA, BATCH_COUNT, BATCH_SIZE, OUTPUT
from fastnn._jit import jit
from fastnn.kernels import handover as H
from fastnn.kernels.atomics import atomic_load, atomic_store
from fastnn.kernels.dense import (
    ACTIVATIONS,
    DENSE,
    FIRST,
    backward_rows,
    batch_loss_grad,
    count_weights,
    finish_range,
    forward_rows,
    layer_buffer,
)
from fastnn.kernels.losses import loss_sum, mean_loss, weight_sum
from fastnn.kernels.optim import optimizer_step, step_range, step_scalars
from fastnn.kernels.views import borrow_args
from fastnn.layout import GRADIENT_2, LAYERS, ROW_SCRATCH

# A batch is split in two blocks of rows when each block has at least PART_MIN_ROWS
# rows and the batch at least PART_MIN_WORK multiply-adds per pass (rows times
# weights): below that, the hand-over between workers costs more than it saves.
# Measured on 2 cores: moons (64 rows x 4,288 weights) and digits (32 x 16,896) gain
# 10-20% on two workers; circles (32 x 1,088) loses 10-40%.
PART_MIN_ROWS = 16
PART_MIN_WORK = 200_000

# Block numbers (FIRST is also the first index), int64: a literal argument would
# compile one more copy of its callee.
SECOND = np.int64(1)


@jit
def batch_parts(sizes, batch_size):
    """How many blocks of rows each mini-batch is split into: 1 or 2."""
    n_weights = count_weights(sizes)
    if batch_size >= 2 * PART_MIN_ROWS and batch_size * n_weights >= PART_MIN_WORK:
        return 2
    return 1


# The part of the ROW_SCRATCH slot for a block of rows: the layout's arithmetic,
# compiled.
row_scratch = jit(layout.row_scratch, internal=True)


@jit
def run_epoch(data, batch_size, network, params, scalars, work):
    """Train on the rows ``idx`` of ``data = (X, Y, sw, idx)`` in mini-batches of
    ``batch_size`` (the last may be shorter); return the sum over batches of ``batch
    loss * batch length``.

    ``work`` is laid out as :func:`fastnn.layout.workspace` says. This is the
    one-thread, one-block textbook loop; :func:`run_epochs` runs the same math in
    blocks of rows.
    """
    _, counts = scalars
    X, Y, _, idx = data
    sizes, codes = network
    theta, grad, state = params
    n = idx.shape[0]
    n_in = X.shape[1]
    n_out = Y.shape[1]
    slots = H.workspace(sizes, batch_size, theta.shape[0])
    layers = H.slot(work, slots, LAYERS)
    total = 0.0
    for start in range(0, n, batch_size):
        nb = min(batch_size, n - start)
        batch = H.batch_views(work, slots, nb, n_in, n_out)
        counts[BATCH_COUNT] += 1
        H.gather(data, start, 0, nb, batch)
        Xb, Yb, swb = batch
        loss = batch_loss_grad(Xb, Yb, swb, network, theta, grad, scalars, layers)
        total += loss * nb
        optimizer_step(theta, grad, state, scalars, codes)
    return total


@jit(internal=True)
def _update(params, other, parts, sw_sum, scalars, network, k0, k1):
    """Finish the gradient (:func:`.dense.finish_range`, ``parts`` blocks, the second's
    sum in ``other``) and step the parameters ``k0:k1``. Returns the sum of the squared
    weights among them before the step (for the L2 penalty of the batch's loss)."""
    hyper, _ = scalars
    theta, grad, state = params
    sizes, codes = network
    n_weights = count_weights(sizes)
    W = theta[k0 : max(k0, min(k1, n_weights))]
    squares = np.dot(W, W)  # BLAS dot, as losses.penalty
    finish_range((grad, other, parts), theta, n_weights, hyper[ALPHA], sw_sum, k0, k1)
    step_range(theta, grad, state, scalars, codes, k0, k1)
    return squares


@jit(inline=True)
def _step(turn, network, params, other, scalars, shared):
    """Batch ``b``'s blocks are done (``turn = (b, nb, parts, release)``: its number,
    rows and blocks): finish the gradient and step the optimizer, sharing the
    elementwise work with worker 1 when ``parts == 2``, and add the batch's loss (its
    penalty from the weights before the step) to the epoch's.

    With ``release`` (a batch within an epoch, two blocks), the next batch is released
    to worker 1 as soon as this worker's share of the step is done: worker 1 finishes
    its own share before it looks, so it need not also wait for this batch's loss."""
    hyper, counts = scalars
    b, nb, parts, release = turn
    sizes, codes = network
    ctl, acc = shared
    n = params[0].shape[0]
    sw_sum = acc[H.WEIGHT]
    # before worker 1 may write acc[SECOND_LOSS] (the next batch's)
    total = acc[H.LOSS] + acc[H.SECOND_LOSS] if parts == 2 else acc[H.LOSS]
    step_scalars(scalars, codes)
    if parts == 2:
        split = H.aligned_half(n)
        atomic_store(ctl, H.READY, b + 1)
        squares = _update(params, other, parts, sw_sum, scalars, network, FIRST, split)
        mine = H.claim(ctl, H.STEP_CLAIMED, b)
        if mine:
            acc[H.SECOND_SQUARES] = _update(
                params, other, parts, sw_sum, scalars, network, split, n
            )
        if release:
            counts[BATCH_COUNT] += 1
            atomic_store(ctl, H.STEPPED, b + 1)
        if not mine:
            H.wait(ctl, H.STEP_DONE, b + 1)
        squares += acc[H.SECOND_SQUARES]
    else:
        squares = _update(params, other, parts, sw_sum, scalars, network, FIRST, n)
    loss = mean_loss(total, sw_sum, sizes[sizes.shape[0] - 1], codes[OUTPUT])
    H.add_batch_loss(acc, loss, squares, hyper[ALPHA], sw_sum, nb)


@jit(internal=True)
def _block(share, data, network, theta, g, scalars, space, acc):
    """Gather and run block ``h`` of batch ``b`` (``share = (b, h, parts)``): its summed
    gradient into ``g``, its summed loss into ``acc[LOSS + h]``. ``space = (work,
    slots)``: ``slots`` is ``work``'s table (:func:`.handover.workspace`), made once per
    call, not per batch.

    Compiled once, for both workers, not inlined into each: typed and lowered twice,
    it made the first fit of a new process with an empty cache about 4% longer (moons,
    2-64-64-2: 13.0-13.3 s against 12.6-12.7 s, two runs each, A B A B), for the same
    speed per epoch."""
    _, counts = scalars
    b, h, parts = share
    X, Y, _, idx = data
    sizes, codes = network
    work, slots = space
    n = idx.shape[0]
    B = counts[BATCH_SIZE]
    start, nb = H.batch_rows(b, n, B)
    mid = (nb + 1) // 2 if parts == 2 else nb
    r0 = 0 if h == 0 else mid
    r1 = mid if h == 0 else nb
    batch = H.batch_views(work, slots, nb, X.shape[1], Y.shape[1])
    layers = H.slot(work, slots, LAYERS)
    H.gather(data, start, r0, r1, batch)
    if r1 > r0:
        # dense.rows_loss_grad, spelled out: one level fewer of compiled calls (each
        # level re-optimises everything it calls, which costs compile time).
        Xb, Yb, swb = batch
        Xr, Yr, swr = Xb[r0:r1], Yb[r0:r1], swb[r0:r1]
        rows = (r0, r1, nb)
        forward_rows(Xr, network, theta, scalars, layers, rows, DENSE)
        A_out = layer_buffer(layers, sizes, sizes.shape[0] - 2, nb, ACTIVATIONS)[r0:r1]
        acc[H.LOSS + h] = loss_sum(A_out, Yr, swr, codes[OUTPUT])
        s0, s1 = row_scratch(sizes, r0, r1)
        mine = H.slot(work, slots, ROW_SCRATCH)[s0:s1]
        backward_rows((Xr, Yr, swr), network, theta, g, scalars, layers, rows, mine, DENSE)
    else:
        for k in range(g.shape[0]):
            g[k] = 0
        acc[H.LOSS + h] = 0.0
    return nb


@jit
def helper(data, network, params, scalars, work, rng_state, losses, shared):
    """Worker 1: the second block of each batch it claims before worker 0 does, and
    then the second half of that batch's step if it claims that too. It takes
    :func:`run_epochs`' arguments (it leaves ``rng_state`` and ``losses`` to worker 0)."""
    data, network, params, scalars, work, rng_state, losses, shared = borrow_args(
        data, network, params, scalars, work, rng_state, losses, shared
    )
    _, counts = scalars
    idx = data[3]
    sizes, _ = network
    theta, _, _ = params
    ctl, acc = shared
    n = idx.shape[0]
    n_params = theta.shape[0]
    B = counts[BATCH_SIZE]
    parts = batch_parts(sizes, B)
    n_batches = losses.shape[0] * ((n + B - 1) // B)
    slots = H.workspace(sizes, B, n_params)
    space = (work, slots)
    other = H.slot(work, slots, GRADIENT_2)
    split = H.aligned_half(n_params)
    b = np.int64(0)  # not a literal, which would type a second copy of H.wait
    while b < n_batches:
        if not H.wait(ctl, H.STEPPED, b):
            return
        if not H.claim(ctl, H.CLAIMED, b):
            b = atomic_load(ctl, H.CLAIMED)  # worker 0 ran it (this worker started late)
            continue
        _block((b, SECOND, parts), data, network, theta, other, scalars, space, acc)
        atomic_store(ctl, H.DONE, b + 1)
        if not H.wait(ctl, H.READY, b + 1):
            return
        if H.claim(ctl, H.STEP_CLAIMED, b):
            acc[H.SECOND_SQUARES] = _update(
                params, other, parts, acc[H.WEIGHT], scalars, network, split, n_params
            )
            atomic_store(ctl, H.STEP_DONE, b + 1)
        b += 1


@jit
def run_epochs(data, network, params, scalars, work, rng_state, losses, shared):
    """Run up to ``losses.shape[0]`` epochs in one call; return how many ran.

    Same meaning as :func:`fastnn.reference.run_epochs`; the shuffle continues NumPy's
    Mersenne Twister stream in ``rng_state`` (see :mod:`.rng`). ``work`` is laid out as
    :func:`fastnn.layout.workspace` says.

    This is worker 0: every batch's first block (of :func:`batch_parts`), the second too
    unless worker 1 (:func:`helper`) claimed it first, the optimizer's steps (shared with
    worker 1) and every epoch's bookkeeping. Alone, it runs every block itself.
    ``shared = (ctl, acc)`` are the counters and sums it shares with worker 1
    (:func:`.handover.counters`); :func:`fastnn.kernels.run_epochs` makes them for a
    call without worker 1.
    """
    data, network, params, scalars, work, rng_state, losses, shared = borrow_args(
        data, network, params, scalars, work, rng_state, losses, shared
    )
    _, counts = scalars
    X, Y, _, idx = data
    sizes, _ = network
    theta, grad, state = params
    ctl, acc = shared
    n = idx.shape[0]
    B = counts[BATCH_SIZE]
    parts = batch_parts(sizes, B)
    per_epoch = (n + B - 1) // B
    slots = H.workspace(sizes, B, theta.shape[0])
    space = (work, slots)
    other = H.slot(work, slots, GRADIENT_2)
    H.start_epoch(idx, theta, state, scalars, rng_state)
    counts[BATCH_COUNT] += 1
    atomic_store(ctl, H.STEPPED, 0)  # batch 0 released: worker 1 may start
    for b in range(losses.shape[0] * per_epoch):
        # One call site for _block in this worker (and one in helper).
        nb = 0
        claimed = True
        for h in range(parts):
            if h == SECOND:
                claimed = H.claim(ctl, H.CLAIMED, b)
                if not claimed:
                    break  # worker 1 runs it
            g = grad if h == FIRST else other
            nb = _block((b, h, parts), data, network, theta, g, scalars, space, acc)
        if not claimed and not H.wait(ctl, H.DONE, b + 1):
            break  # halted: worker 1 failed
        _, _, swb = H.batch_views(work, slots, nb, X.shape[1], Y.shape[1])
        acc[H.WEIGHT] = weight_sum(swb)
        release = parts == 2 and (b + 1) % per_epoch != 0
        _step((b, nb, parts, release), network, params, other, scalars, shared)
        if release:  # _step counted the batch and released the next one
            continue
        if H.end_batch(b, per_epoch, idx, params, scalars, rng_state, losses, shared):
            atomic_store(ctl, H.HALT, 1)
            break
        atomic_store(ctl, H.STEPPED, b + 1)
    return ctl[H.EPOCHS]
