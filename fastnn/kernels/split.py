"""The model-parallel epoch kernel: each worker owns half of every hidden layer's units.

:mod:`.epoch` splits a mini-batch's *rows* between the two workers. Each computes a
gradient for every parameter, and the two halves of the optimizer step exchange
gradients and parameters between the cores on every batch: about four copies of the
parameter vector cross between the cores per batch (8 MB for 2-512-512-1 in float64).

Here the workers split each hidden layer's *units* instead, and every product runs on
the whole batch. Worker ``k`` owns a block ``own`` of each hidden layer's units: the
first layer's columns ``W[:, own]``, each later layer's rows ``W[own, :]`` (the weights
leaving those units, contiguous in the flat vector), and the biases of its units; the
output layer's bias is worker 0's. Per batch:

- gather: each worker copies half the batch's rows;
- first layer: ``A[:, own] = f(X @ W[:, own] + b[own])``; then its part of the next
  layer's product from its own units, ``P_k = A[:, own] @ W_next[own, :]``;
- each later hidden layer, once both parts exist: ``A[:, own] = f(P_0 + P_1 + b)`` on
  its own columns, then its part of the next product;
- output layer: each worker adds ``P_0 + P_1`` (worker 0 put the bias in its part) and
  computes the output activation and its delta for itself, a few values per row,
  cheaper than waiting for the other; its rows ``dW_out[own, :] = A[:, own].T @ delta``
  and its columns of the delta below, ``delta @ W_out[own, :].T`` times ``f'``;
- each hidden layer below, once both workers' columns of its delta exist: the same
  (its rows of ``dW``, its columns of the next delta down);
- first layer: its columns ``dW[:, own] = X.T @ delta[:, own]``; then each worker
  finishes the gradient of, and steps, the parameters it owns. Within an epoch no
  gradient or parameter crosses between the cores; only the batch's rows, activations
  and deltas do (worker 0 saves all the weights at each epoch's start).

A batch takes ``2 L - 1`` phases for ``L`` layers. Each phase has two shares, claimed
as :mod:`.handover` says: worker 1 claims share 1 of a phase by compare-and-swap, or
worker 0 runs it itself, so the bits do not depend on the number of threads (and a
worker 1 that starts late or never cannot stall worker 0). They do differ from
:mod:`.epoch`'s (other sums, in another order), so the engine picks the scheme from the
shapes alone (:func:`fastnn.kernels.splits_units`). Products go to BLAS on strided views
(:mod:`.blas`): a block of columns is not contiguous. Dropout's masks are drawn by
rows, so a fit with dropout runs :mod:`.epoch`.
"""

import numpy as np

from fastnn import layout
from fastnn._codes import ALPHA, BATCH_COUNT, BATCH_SIZE, HIDDEN, OUTPUT
from fastnn._jit import jit
from fastnn.kernels import handover as H
from fastnn.kernels.activations import output_activate
from fastnn.kernels.atomics import atomic_load, atomic_store
from fastnn.kernels.columns import (
    activate_columns,
    column_sums,
    derive_columns,
    sum_activate_columns,
)
from fastnn.kernels.dense import (
    ACTIVATIONS,
    DELTAS,
    NOT_PENALISED,
    ONE_PART,
    PENALISED,
    SMALL_PRODUCT,
    finish_slice,
    layer_buffer,
    layer_offsets,
    layer_params,
    matmul_loops,
)
from fastnn.kernels.gemm import gemm
from fastnn.kernels.losses import loss_sum, mean_loss, output_delta, weight_sum
from fastnn.kernels.optim import step_range, step_scalars
from fastnn.kernels.views import borrow_args, matrix
from fastnn.layout import LAYERS, OUTPUT_1, OUTPUT_DELTA_1, PARTIALS, SUMS_0, SUMS_1

SHARE_0, SHARE_1 = np.int64(0), np.int64(1)  # int64, not literals (see .dense)

# Where each share's partial products lie in the PARTIALS slot: the layout's
# arithmetic, compiled.
partial_start = jit(layout.partial_start, internal=True)


@jit(internal=True)
def _units(n, k):
    """The block of a layer's ``n`` units that share ``k`` owns: ``(u0, u1)``; the
    first block is cut at a multiple of 16 units (a 64-byte cache line of float32)."""
    half = H.aligned_half(n) if n >= 32 else n // 2
    return (0, half) if k == 0 else (half, n)


@jit(internal=True)
def mm(A, B, C):
    """``C = A @ B`` on views of any strides (:func:`.blas.gemm`), with plain loops for
    products of at most ``SMALL_PRODUCT`` multiply-adds (as :func:`.dense.matmul`)."""
    n, k = A.shape
    m = B.shape[1]
    if n * k * m > SMALL_PRODUCT:
        gemm(A, B, C, 0.0)
    else:
        matmul_loops(A, B, C)


@jit(internal=True)
def _partial(room, layer, k, nb, cols):
    """Share ``k``'s part ``P_k`` of layer ``layer``'s product (``nb`` rows, ``cols``
    columns), in the ``PARTIALS`` slot: ``room = (partials, B, widest)``, the slot and
    the batch size and widest layer it was sized for. Layers alternate between two pairs
    of blocks: a share writes the next layer's part while the other may still read this
    one's."""
    partials, B, widest = room
    start = partial_start(layer, k, B, widest)
    return matrix(partials[start:], nb, cols)


@jit(internal=True)
def _output_buffers(work, slots, layers, sizes, k, nb):
    """The buffers share ``k``'s output and output delta go to (``nb`` rows): the layer
    buffers for share 0, its own slots for share 1."""
    n_out = sizes[sizes.shape[0] - 1]
    L = sizes.shape[0] - 1
    if k == 0:
        return (layer_buffer(layers, sizes, L - 1, nb, ACTIVATIONS),
                layer_buffer(layers, sizes, L - 1, nb, DELTAS))  # fmt: skip
    Z = matrix(H.slot(work, slots, OUTPUT_1), nb, n_out)
    D = matrix(H.slot(work, slots, OUTPUT_DELTA_1), nb, n_out)
    return Z, D


@jit(internal=True)
def _step_run(params, scalars, codes, a, e, sw_sum, penalised):
    """Finish the gradient of the parameters ``a:e`` and step them; return the sum of
    their squares before the step if they are weights (``penalised``)."""
    hyper, _ = scalars
    theta, grad, state = params
    W = theta[a:e]
    squares = np.dot(W, W) if penalised else 0.0  # BLAS dot, as losses.penalty
    finish_slice(grad[a:e], grad[a:e], ONE_PART, W, hyper[ALPHA], sw_sum, penalised)
    step_range(theta, grad, state, scalars, codes, a, e)
    return squares


@jit(internal=True)
def _step_own(k, network, params, scalars, sw_sum):
    """Share ``k`` finishes and steps the parameters it owns (see the module's
    docstring); returns the sum of the squares of its weights before the step."""
    sizes, codes = network
    L = sizes.shape[0] - 1
    squares = 0.0
    n_in, n_units = sizes[0], sizes[1]
    u0, u1 = _units(n_units, k)
    W_start, _ = layer_offsets(sizes, 0)
    for r in range(n_in):  # the first layer: a block of columns, row by row
        a = W_start + r * n_units
        squares += _step_run(params, scalars, codes, a + u0, a + u1, sw_sum, PENALISED)
    for i in range(1, L):  # later layers: the rows fed by this share's units
        fan_out = sizes[i + 1]
        u0, u1 = _units(sizes[i], k)
        W_start, _ = layer_offsets(sizes, i)
        a, e = W_start + u0 * fan_out, W_start + u1 * fan_out
        squares += _step_run(params, scalars, codes, a, e, sw_sum, PENALISED)
    for i in range(L):  # biases: this share's units; the output layer's, share 0
        _, b_start = layer_offsets(sizes, i)
        if i < L - 1:
            u0, u1 = _units(sizes[i + 1], k)
        elif k == 0:
            u0, u1 = 0, sizes[L]
        else:
            u0, u1 = 0, 0
        _step_run(params, scalars, codes, b_start + u0, b_start + u1, sw_sum, NOT_PENALISED)
    return squares


@jit(internal=True)
def _forward_part(i, k, A_own, sizes, theta, room, nb):
    """Share ``k``'s part of layer ``i``'s product, from its own units below:
    ``P_k = A[:, own] @ W[own, :]`` (share 0 adds the bias to the output layer's)."""
    u0, u1 = _units(sizes[i], k)
    W, b = layer_params(theta, sizes, i)
    P = _partial(room, i, k, nb, sizes[i + 1])
    mm(A_own, W[u0:u1, :], P)
    if k == 0 and i == sizes.shape[0] - 2:  # the output layer's bias: see _phase
        for r in range(nb):
            for c in range(P.shape[1]):
                P[r, c] += b[c]


@jit(internal=True)
def _first_layer_grad(k, Xb, sizes, grad, layers, nb):
    """Share ``k``'s columns of the first layer's ``dW``, from its columns of the
    first layer's delta."""
    u0, u1 = _units(sizes[1], k)
    delta = layer_buffer(layers, sizes, 0, nb, DELTAS)[:, u0:u1]
    dW, _ = layer_params(grad, sizes, 0)
    mm(Xb.T, delta, dW[:, u0:u1])


@jit(internal=True)
def _backward_row_layer(i, k, network, params, layers, nb, D, sums):
    """Share ``k`` of layer ``i``'s backward pass (``i >= 1``), from the whole delta
    ``D`` of its outputs: its rows of ``dW``, then its own columns of the delta below
    (times ``f'``) and of that layer's ``db`` (summed in ``sums``)."""
    sizes, codes = network
    theta, grad, _ = params
    u0, u1 = _units(sizes[i], k)
    A = layer_buffer(layers, sizes, i - 1, nb, ACTIVATIONS)
    W, _ = layer_params(theta, sizes, i)
    dW, _ = layer_params(grad, sizes, i)
    mm(A[:, u0:u1].T, D, dW[u0:u1, :])
    delta = layer_buffer(layers, sizes, i - 1, nb, DELTAS)
    mm(D, W[u0:u1, :].T, delta[:, u0:u1])
    _, db = layer_params(grad, sizes, i - 1)
    derive_columns(A, delta, db, u0, u1, codes[HIDDEN], sums)


@jit(internal=True)
def _phase(share, data, network, params, scalars, space, acc):
    """Share ``k`` of phase ``p`` of batch ``b``, ``share = (p, k, b)`` (see the
    module's docstring). ``space = (work, slots)``: ``slots`` is ``work``'s table
    (:func:`.handover.workspace`), made once per call, not per phase."""
    _, counts = scalars
    p, k, b = share
    X, Y, _, idx = data
    sizes, codes = network
    theta, grad, _ = params
    work, slots = space
    n = idx.shape[0]
    n_in, n_out = X.shape[1], Y.shape[1]
    L = sizes.shape[0] - 1
    B = counts[BATCH_SIZE]
    start, nb = H.batch_rows(b, n, B)
    batch = H.batch_views(work, slots, nb, n_in, n_out)
    Xb, Yb, swb = batch
    layers = H.slot(work, slots, LAYERS)
    sums = H.slot(work, slots, SUMS_0 if k == 0 else SUMS_1)
    widest = sums.shape[0]  # the column sums' slot is as long as the widest layer
    room = (H.slot(work, slots, PARTIALS), B, widest)
    if p == 0:  # gather: each share copies half the rows
        mid = (nb + 1) // 2
        H.gather(data, start, 0 if k == 0 else mid, mid if k == 0 else nb, batch)
    elif p == 1:  # the first layer, own units; then this share's part of the next layer
        u0, u1 = _units(sizes[1], k)
        W, b_ = layer_params(theta, sizes, 0)
        A = layer_buffer(layers, sizes, 0, nb, ACTIVATIONS)
        mm(Xb, W[:, u0:u1], A[:, u0:u1])
        activate_columns(A, b_, u0, u1, codes[HIDDEN])
        _forward_part(1, k, A[:, u0:u1], sizes, theta, room, nb)
    elif p < L:  # hidden layer p - 1 >= 1: own units from the two parts; the next part
        i = p - 1
        u0, u1 = _units(sizes[i + 1], k)
        P_0 = _partial(room, i, SHARE_0, nb, sizes[i + 1])
        P_1 = _partial(room, i, SHARE_1, nb, sizes[i + 1])
        A = layer_buffer(layers, sizes, i, nb, ACTIVATIONS)
        _, b_ = layer_params(theta, sizes, i)
        sum_activate_columns(P_0, P_1, b_, A, u0, u1, codes[HIDDEN])
        _forward_part(i + 1, k, A[:, u0:u1], sizes, theta, room, nb)
    elif p == L:  # the output layer (each share for itself), then its backward pass
        P_0 = _partial(room, L - 1, SHARE_0, nb, n_out)
        P_1 = _partial(room, L - 1, SHARE_1, nb, n_out)
        Zo, Do = _output_buffers(work, slots, layers, sizes, k, nb)
        for r in range(nb):
            for c in range(n_out):
                Zo[r, c] = P_0[r, c] + P_1[r, c]
        output_activate(Zo, codes[OUTPUT])
        output_delta(Zo, Yb, swb, codes[OUTPUT], Do)
        if k == 0:
            acc[H.LOSS] = loss_sum(Zo, Yb, swb, codes[OUTPUT])
            _, db_out = layer_params(grad, sizes, L - 1)
            column_sums(Do, db_out)
        _backward_row_layer(L - 1, k, network, params, layers, nb, Do, sums)
        if L == 2:
            _first_layer_grad(k, Xb, sizes, grad, layers, nb)
            _step_phase(k, swb, network, params, scalars, acc)
    else:  # layer i >= 1, from the whole delta of its outputs (both shares' columns)
        i = 2 * L - 1 - p
        D = layer_buffer(layers, sizes, i, nb, DELTAS)
        _backward_row_layer(i, k, network, params, layers, nb, D, sums)
        if i == 1:
            _first_layer_grad(k, Xb, sizes, grad, layers, nb)
            _step_phase(k, swb, network, params, scalars, acc)


@jit(internal=True)
def _step_phase(k, swb, network, params, scalars, acc):
    """Share ``k``'s gradient is complete: finish it and step its parameters."""
    sw_sum = weight_sum(swb)
    acc[H.SQUARES + k] = _step_own(k, network, params, scalars, sw_sum)


@jit
def helper(data, network, params, scalars, work, rng_state, losses, shared):
    """Worker 1: share 1 of each phase it claims before worker 0 does. It takes
    :func:`run_epochs`' arguments (it leaves ``rng_state`` and ``losses`` to worker 0)."""
    data, network, params, scalars, work, rng_state, losses, shared = borrow_args(
        data, network, params, scalars, work, rng_state, losses, shared
    )
    _, counts = scalars
    idx = data[3]
    sizes = network[0]
    ctl, acc = shared
    n = idx.shape[0]
    B = counts[BATCH_SIZE]
    space = (work, H.workspace(sizes, B, params[0].shape[0]))
    phases = 2 * (sizes.shape[0] - 1) - 1
    total = losses.shape[0] * ((n + B - 1) // B) * phases
    t = np.int64(0)  # not a literal, which would type a second copy of H.wait
    while t < total:
        if not H.wait(ctl, H.STEPPED, t + 1):
            return
        if not H.claim(ctl, H.CLAIMED, t):
            t = atomic_load(ctl, H.CLAIMED)  # worker 0 ran it (this worker started late)
            continue
        _phase((t % phases, SHARE_1, t // phases), data, network, params, scalars, space, acc)
        atomic_store(ctl, H.DONE, t + 1)
        t += 1


@jit
def run_epochs(data, network, params, scalars, work, rng_state, losses, shared):
    """Run up to ``losses.shape[0]`` epochs in one call; return how many ran. Same
    meaning as :func:`fastnn.reference.run_epochs`, model-parallel (see the module's
    docstring).

    This is worker 0: share 0 of every phase, share 1 too unless worker 1
    (:func:`helper`) claimed it, and every epoch's bookkeeping. ``shared = (ctl, acc)``
    are the counters and sums it shares with worker 1 (:func:`.handover.counters`).
    """
    data, network, params, scalars, work, rng_state, losses, shared = borrow_args(
        data, network, params, scalars, work, rng_state, losses, shared
    )
    hyper, counts = scalars
    X, Y, _, idx = data
    sizes, codes = network
    theta, _, state = params
    ctl, acc = shared
    n = idx.shape[0]
    B = counts[BATCH_SIZE]
    per_epoch = (n + B - 1) // B
    phases = 2 * (sizes.shape[0] - 1) - 1
    n_out = Y.shape[1]
    slots = H.workspace(sizes, B, theta.shape[0])
    space = (work, slots)
    H.start_epoch(idx, theta, state, scalars, rng_state)
    counts[BATCH_COUNT] += 1
    for b in range(losses.shape[0] * per_epoch):
        step_scalars(scalars, codes)
        for p in range(phases):
            t = b * phases + p
            atomic_store(ctl, H.STEPPED, t + 1)
            _phase((p, SHARE_0, b), data, network, params, scalars, space, acc)
            if H.claim(ctl, H.CLAIMED, t):
                _phase((p, SHARE_1, b), data, network, params, scalars, space, acc)
            elif not H.wait(ctl, H.DONE, t + 1):
                return ctl[H.EPOCHS]  # halted: worker 1 failed (see fastnn._workers)
        _, nb = H.batch_rows(b, n, B)
        _, _, swb = H.batch_views(work, slots, nb, X.shape[1], n_out)
        sw_sum = weight_sum(swb)
        loss = mean_loss(acc[H.LOSS], sw_sum, n_out, codes[OUTPUT])
        squares = acc[H.SQUARES] + acc[H.SECOND_SQUARES]
        H.add_batch_loss(acc, loss, squares, hyper[ALPHA], sw_sum, nb)
        if H.end_batch(b, per_epoch, idx, params, scalars, rng_state, losses, shared):
            atomic_store(ctl, H.HALT, 1)
            break
    return ctl[H.EPOCHS]
