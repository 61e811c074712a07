"""Kernels for sparse input: a mini-batch fit and prediction on a CSR matrix.

The input ``X`` reaches the kernels as the arrays of a CSR matrix, ``(indptr, indices,
values)`` (int64, int32 and the fit's float type), and for training a fourth,
``columns``, room for a batch's map of columns (:func:`fastnn.engine.kernel_input`
makes them from a SciPy matrix). Only the first layer sees ``X``: its product ``X_b W``
and its weight gradient ``X_bᵀ delta`` run on the rows of the batch as they are stored,
and every other layer is :mod:`.dense`'s (``given=True`` tells it that the first
layer's products are done here). ``X`` is never made dense, neither whole nor per batch.

Both products visit the non-zeros in the order SciPy's ``csr_matvecs`` and
``csc_matvecs`` do, which scikit-learn's ``safe_sparse_dot`` calls: row by row, and
within a row in stored order, each adding ``value * row of W`` (or of ``delta``) to
the row it feeds.

A batch of sparse rows is cheap (a few non-zeros a row); the cost is the optimizer's
step over every weight of the first layer, which exact Adam moves each batch whatever
the gradient (the moments decay, the L2 term pulls). That step is one pass over the
weights and the optimizer's moments: the gradient of the first layer's weights is kept
as compact rows, one for each column the batch has non-zeros in
(:func:`scatter_gradient`), and each weight row is finished and stepped from its
compact row or from zero (:func:`step_first_layer`). No gradient the size of the first
layer is written or read: the first layer's part of ``grad`` holds only the compact
rows, and the rest of it is never touched (so the system never backs those pages of
``np.zeros`` with memory). The step is bound by its two divisions and square root a
weight, not by memory: worker 1 (:func:`helper`) takes the second half of the rows,
claimed as :mod:`.epoch`'s half-steps are (:mod:`.handover`), which about halves it.
"""

import numpy as np

from fastnn._codes import ALPHA, BATCH_COUNT, BATCH_SIZE, OUTPUT
from fastnn._jit import jit
from fastnn.kernels import handover as H
from fastnn.kernels.atomics import atomic_load, atomic_store
from fastnn.kernels.dense import (
    ACTIVATIONS,
    DELTAS,
    FIRST,
    GIVEN,
    ONE_PART,
    PENALISED,
    PREDICT_BLOCK,
    backward_rows,
    count_weights,
    finish_range,
    finish_slice,
    forward_rows,
    layer_buffer,
    layer_params,
    predict_block,
    predict_scratch,
)
from fastnn.kernels.losses import loss_sum, mean_loss, weight_sum
from fastnn.kernels.optim import step_entries, step_range, step_scalars
from fastnn.kernels.views import matrix
from fastnn.layout import LAYERS, ROW_SCRATCH


@jit(internal=True)
def csr_product(X, order, start, W, Z):
    """``Z = X[order[start : start + n]] @ W``, ``n`` the rows of ``Z``."""
    indptr, indices, values = X
    n_out = W.shape[1]
    for r in range(Z.shape[0]):
        row = order[start + r]
        for c in range(n_out):
            Z[r, c] = 0
        for p in range(indptr[row], indptr[row + 1]):
            v = values[p]
            j = indices[p]
            for c in range(n_out):
                Z[r, c] += v * W[j, c]


@jit(internal=True)
def scatter_gradient(X, order, start, delta, G, slots, touched):
    """The first layer's weight gradient ``X_b.T @ delta`` (``X_b`` the rows
    ``order[start : start + n]``, ``n`` the rows of ``delta``), summed into compact rows
    of ``G``: only the columns the batch has non-zeros in have a gradient row other than
    zero, and column ``j``'s is ``G[slots[j]]``, given out in the order the columns
    first appear (``touched`` lists them; ``slots`` is -1 elsewhere, and is left so by
    :func:`step_first_layer`). Returns how many columns the batch touched."""
    indptr, indices, values = X
    n_out = delta.shape[1]
    n_touched = 0
    for r in range(delta.shape[0]):
        row = order[start + r]
        for p in range(indptr[row], indptr[row + 1]):
            j = indices[p]
            s = slots[j]
            if s < 0:
                s = n_touched
                slots[j] = s
                touched[s] = j
                n_touched += 1
                for c in range(n_out):
                    G[s, c] = 0
            v = values[p]
            for c in range(n_out):
                G[s, c] += v * delta[r, c]
    return n_touched


@jit(internal=True)
def step_first_layer(params, network, scalars, sw_sum, compact, rows, g_zero):
    """Finish the first layer's gradient (:func:`.dense.finish_slice`) and step its
    weights (:func:`.optim.step_entries`) for the rows ``j0:j1`` of ``W``, ``rows =
    (j0, j1)``, a row at a time: row ``j``'s gradient is the compact row
    :func:`scatter_gradient` gave it, ``G[slots[j]]``, or zero if the batch did not
    touch column ``j`` (then only the L2 term moves it; ``g_zero``, a row of room of
    the calling worker's own, holds it). ``compact = (G, slots)``. Returns the sum of
    the squared weights before the step."""
    hyper, _ = scalars
    theta, _, state = params
    sizes, codes = network
    G, slots = compact
    j0, j1 = rows
    fan_out = sizes[1]
    alpha = hyper[ALPHA]
    squares = 0.0
    for j in range(j0, j1):
        k0 = j * fan_out
        k1 = k0 + fan_out
        s = slots[j]
        if s >= 0:
            g = G[s]
        else:
            g = g_zero
            for c in range(fan_out):
                g[c] = 0
        W = theta[k0:k1]
        squares += np.dot(W, W)  # BLAS dot, as losses.penalty: a loop's sum is serial
        finish_slice(g, g, ONE_PART, W, alpha, sw_sum, PENALISED)
        step_entries(theta, g, state, scalars, codes, k0, k1)
    return squares


@jit(internal=True)
def step_other_layers(params, network, scalars, sw_sum, k0):
    """Finish the gradient and step the parameters from ``k0`` on (every one but the
    first layer's weights), as the dense kernels do. Returns the sum of the squared
    weights among them before the step."""
    hyper, _ = scalars
    theta, grad, state = params
    sizes, codes = network
    n = theta.shape[0]
    n_weights = count_weights(sizes)
    W = theta[k0:n_weights]
    squares = np.dot(W, W)
    finish_range((grad, grad, ONE_PART), theta, n_weights, hyper[ALPHA], sw_sum, k0, n)
    step_range(theta, grad, state, scalars, codes, k0, n)
    return squares


@jit(inline=True)
def compact_gradient(X, grad, sizes):
    """The CSR arrays of ``X = (indptr, indices, values, columns)``, the first layer's
    compact gradient ``(G, slots)`` and its list of ``touched`` columns
    (:func:`scatter_gradient`): ``G`` at the start of that layer's place in ``grad``,
    ``slots`` and ``touched`` the two halves of ``columns``."""
    indptr, indices, values, columns = X
    n_in = sizes[0]
    G = matrix(grad, n_in, sizes[1])
    return (indptr, indices, values), (G, columns[:n_in]), columns[n_in : 2 * n_in]


@jit
def helper(data, network, params, scalars, work, rng_state, losses, shared):
    """Worker 1: the second half of the first layer's step of each batch it claims
    before worker 0 does (:mod:`.handover`'s protocol). It takes :func:`run_epochs`'
    arguments (it leaves ``work``, ``rng_state`` and ``losses`` to worker 0)."""
    _, counts = scalars
    X, _, _, idx = data
    sizes, _ = network
    theta, grad, _ = params
    ctl, acc = shared
    _, compact, _ = compact_gradient(X, grad, sizes)
    B = counts[BATCH_SIZE]
    n_batches = losses.shape[0] * ((idx.shape[0] + B - 1) // B)
    half = (sizes[0] // 2, sizes[0])
    g_zero = np.empty(sizes[1], dtype=theta.dtype)  # once per call, not per batch
    b = np.int64(0)
    while b < n_batches:
        if not H.wait(ctl, H.READY, b + 1):
            return
        if not H.claim(ctl, H.STEP_CLAIMED, b):
            b = atomic_load(ctl, H.STEP_CLAIMED)  # worker 0 stepped it (this one is late)
            continue
        sw_sum = acc[H.WEIGHT]
        acc[H.SECOND_SQUARES] = step_first_layer(
            params, network, scalars, sw_sum, compact, half, g_zero
        )
        atomic_store(ctl, H.STEP_DONE, b + 1)
        b += 1


@jit
def run_epochs(data, network, params, scalars, work, rng_state, losses, shared):
    """Run up to ``losses.shape[0]`` epochs on sparse ``X`` in one call; return how many
    ran: :func:`.epoch.run_epochs` (the same arguments, ``data = (X, Y, sw, idx)`` with
    ``X = (indptr, indices, values, columns)``, the CSR arrays and an int64 vector of
    twice the columns, all -1) with the first layer's products on the sparse rows.
    ``work`` is laid out as :func:`fastnn.layout.work_size` says with ``sparse=True``:
    no room for a batch of ``X``.

    This is worker 0: every batch but the second half of the first layer's step
    (the rows of ``W`` from ``n_in // 2``), which worker 1 (:func:`helper`) runs if it
    claims it first. The step of those weights is the bulk of a batch's work: exact Adam
    moves every one of them each batch."""
    hyper, counts = scalars
    X, Y, sw, idx = data
    sizes, codes = network
    theta, grad, state = params
    ctl, acc = shared
    n = idx.shape[0]
    n_layers = sizes.shape[0] - 1
    B = counts[BATCH_SIZE]
    per_epoch = (n + B - 1) // B
    room = sizes.copy()
    room[0] = 0  # no batch of X in the workspace
    table = H.workspace(room, B, np.int64(0))
    layers = H.slot(work, table, LAYERS)
    scratch = H.slot(work, table, ROW_SCRATCH)
    targets = (matrix(work[:0], n, 0), Y, sw, idx)  # what H.gather copies: Y and sw
    W0, _ = layer_params(theta, sizes, FIRST)
    csr, compact, touched = compact_gradient(X, grad, sizes)
    G, slots = compact
    n_first = sizes[0] * sizes[1]
    halves = ((FIRST, sizes[0] // 2), (sizes[0] // 2, sizes[0]))
    g_zero = np.empty(sizes[1], dtype=theta.dtype)  # once per call, not per batch
    H.start_epoch(idx, theta, state, scalars, rng_state)
    counts[BATCH_COUNT] += 1
    for b in range(losses.shape[0] * per_epoch):
        start, nb = H.batch_rows(b, n, B)
        batch = H.batch_views(work, table, nb, 0, Y.shape[1])
        H.gather(targets, start, 0, nb, batch)
        _, Yb, swb = batch
        rows = (FIRST, nb, nb)
        Z1 = layer_buffer(layers, sizes, FIRST, nb, ACTIVATIONS)
        csr_product(csr, idx, start, W0, Z1)
        forward_rows(Z1, network, theta, scalars, layers, rows, GIVEN)
        A_out = layer_buffer(layers, sizes, n_layers - 1, nb, ACTIVATIONS)
        total = loss_sum(A_out, Yb, swb, codes[OUTPUT])
        backward_rows((Z1, Yb, swb), network, theta, grad, scalars, layers, rows, scratch, GIVEN)
        delta1 = layer_buffer(layers, sizes, FIRST, nb, DELTAS)
        n_touched = scatter_gradient(csr, idx, start, delta1, G, slots, touched)
        sw_sum = weight_sum(swb)
        acc[H.WEIGHT] = sw_sum
        step_scalars(scalars, codes)
        atomic_store(ctl, H.READY, b + 1)  # worker 1 may take the second half
        squares = step_first_layer(params, network, scalars, sw_sum, compact, halves[0], g_zero)
        if H.claim(ctl, H.STEP_CLAIMED, b):
            acc[H.SECOND_SQUARES] = step_first_layer(
                params, network, scalars, sw_sum, compact, halves[1], g_zero
            )
        elif not H.wait(ctl, H.STEP_DONE, b + 1):
            break  # halted: worker 1 failed
        squares += acc[H.SECOND_SQUARES]
        for t in range(n_touched):
            slots[touched[t]] = -1
        squares += step_other_layers(params, network, scalars, sw_sum, n_first)
        loss = mean_loss(total, sw_sum, sizes[n_layers], codes[OUTPUT])
        H.add_batch_loss(acc, loss, squares, hyper[ALPHA], sw_sum, nb)
        if H.end_batch(b, per_epoch, idx, params, scalars, rng_state, losses, shared):
            atomic_store(ctl, H.HALT, 1)
            break
    return ctl[H.EPOCHS]


@jit
def predict_rows(X, network, theta, out):
    """Write the output layer's activations for the rows of CSR ``X`` into ``out``, block
    by block of :data:`.dense.PREDICT_BLOCK` rows (:func:`.dense.predict_block`)."""
    indptr, indices, values = X[0], X[1], X[2]  # a training X has a fourth array
    sizes, _ = network
    n_rows = out.shape[0]
    n_layers = sizes.shape[0] - 1
    order = np.arange(n_rows)
    scratch = predict_scratch(sizes, theta)
    W0, _ = layer_params(theta, sizes, FIRST)
    for r0 in range(0, n_rows, PREDICT_BLOCK):
        r1 = min(n_rows, r0 + PREDICT_BLOCK)
        if n_layers == 1:
            Z1 = out[r0:r1]
        else:
            Z1 = matrix(scratch, r1 - r0, sizes[1])
        csr_product((indptr, indices, values), order, r0, W0, Z1)
        predict_block(Z1, network, theta, scratch, out[r0:r1], GIVEN)
