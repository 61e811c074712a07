"""Kernels for sparse input: a mini-batch fit and prediction on a CSR matrix.

The input ``X`` is a CSR matrix as three arrays, ``X = (indptr, indices, values)``
(int64, int32 and the fit's float type; :func:`fastnn.engine.kernel_input` makes them
from a SciPy matrix). Only the first layer sees ``X``: its product ``X_b W`` and its
weight gradient ``X_bᵀ delta`` run on the rows of the batch as they are stored, and
every other layer is :mod:`.dense`'s (``given=True`` tells it that the first layer's
products are done here). ``X`` is never made dense, neither whole nor per batch.

Both products visit the non-zeros in the order SciPy's ``csr_matvecs`` and
``csc_matvecs`` do, which scikit-learn's ``safe_sparse_dot`` calls: row by row, and
within a row in stored order, each adding ``value * row of W`` (or of ``delta``) to
the row it feeds.

The epoch kernel runs on one worker: a batch of sparse rows is cheap (a few non-zeros
a row), and the cost is the optimizer's step over every weight of the first layer,
which exact Adam updates each batch whatever the gradient. That step runs
:data:`STEP_CHUNK` entries at a time, each chunk's gradient finished, stepped and zeroed
while it is in the cache: one pass over the parameters and the optimizer's moments per
batch, where finishing the whole gradient and then stepping it made two.
"""

import numpy as np

from fastnn._codes import ALPHA, BATCH_COUNT, BATCH_SIZE, OUTPUT
from fastnn._jit import jit
from fastnn.kernels import handover as H
from fastnn.kernels.dense import (
    ACTIVATIONS,
    DELTAS,
    FIRST,
    GIVEN,
    ONE_PART,
    PREDICT_BLOCK,
    backward_rows,
    count_weights,
    finish_range,
    forward_rows,
    layer_buffer,
    layer_params,
    predict_block,
    predict_scratch,
)
from fastnn.kernels.losses import loss_sum, mean_loss, weight_sum
from fastnn.kernels.optim import step_range, step_scalars
from fastnn.kernels.views import matrix
from fastnn.layout import LAYERS, ROW_SCRATCH

# Entries of the parameter vector the sparse step takes at a time: four vectors of
# them (weights, gradient, two moments) fit in a core's L2 cache.
STEP_CHUNK = 4096


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
def csr_product_tn(X, order, start, delta, dW):
    """``dW += X[order[start : start + n]].T @ delta``, ``n`` the rows of ``delta``:
    only the rows of ``dW`` of the columns the batch has non-zeros in change."""
    indptr, indices, values = X
    n_out = dW.shape[1]
    for r in range(delta.shape[0]):
        row = order[start + r]
        for p in range(indptr[row], indptr[row + 1]):
            v = values[p]
            j = indices[p]
            for c in range(n_out):
                dW[j, c] += v * delta[r, c]


@jit(internal=True)
def step_in_chunks(params, network, scalars, sw_sum):
    """Finish the gradient (:func:`.dense.finish_range`), step the parameters
    (:func:`.optim.step_range`) and zero the gradient, :data:`STEP_CHUNK` entries at a
    time. Returns the sum of the squared weights before the step (for the batch's L2
    penalty). The first layer's gradient is then zero for the next batch's
    :func:`csr_product_tn`; the other layers' are overwritten."""
    hyper, _ = scalars
    theta, grad, state = params
    sizes, codes = network
    n = theta.shape[0]
    n_weights = count_weights(sizes)
    sums = (grad, grad, ONE_PART)
    squares = 0.0
    for k0 in range(0, n, STEP_CHUNK):
        k1 = min(n, k0 + STEP_CHUNK)
        for k in range(k0, min(k1, n_weights)):
            squares += theta[k] * theta[k]
        finish_range(sums, theta, n_weights, hyper[ALPHA], sw_sum, k0, k1)
        step_range(theta, grad, state, scalars, codes, k0, k1)
        for k in range(k0, k1):
            grad[k] = 0
    return squares


@jit
def run_epochs(data, network, params, scalars, work, rng_state, losses, shared):
    """Run up to ``losses.shape[0]`` epochs on sparse ``X`` in one call; return how many
    ran: :func:`.epoch.run_epochs` (the same arguments, ``data = (X, Y, sw, idx)`` with
    ``X`` a CSR triple) on one worker, with the first layer's products on the sparse
    rows. ``work`` is laid out as :func:`fastnn.layout.work_size` says with
    ``sparse=True``: no room for a batch of ``X``. The gradient vector must start at
    zero (each call leaves it so)."""
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
    slots = H.workspace(room, B, np.int64(0))
    layers = H.slot(work, slots, LAYERS)
    scratch = H.slot(work, slots, ROW_SCRATCH)
    targets = (matrix(work[:0], n, 0), Y, sw, idx)  # what H.gather copies: Y and sw
    W0, _ = layer_params(theta, sizes, FIRST)
    dW0, _ = layer_params(grad, sizes, FIRST)
    H.start_epoch(idx, theta, state, scalars, rng_state)
    counts[BATCH_COUNT] += 1
    for b in range(losses.shape[0] * per_epoch):
        start, nb = H.batch_rows(b, n, B)
        batch = H.batch_views(work, slots, nb, 0, Y.shape[1])
        H.gather(targets, start, 0, nb, batch)
        _, Yb, swb = batch
        rows = (FIRST, nb, nb)
        Z1 = layer_buffer(layers, sizes, FIRST, nb, ACTIVATIONS)
        csr_product(X, idx, start, W0, Z1)
        forward_rows(Z1, network, theta, scalars, layers, rows, GIVEN)
        A_out = layer_buffer(layers, sizes, n_layers - 1, nb, ACTIVATIONS)
        total = loss_sum(A_out, Yb, swb, codes[OUTPUT])
        backward_rows((Z1, Yb, swb), network, theta, grad, scalars, layers, rows, scratch, GIVEN)
        delta1 = layer_buffer(layers, sizes, FIRST, nb, DELTAS)
        csr_product_tn(X, idx, start, delta1, dW0)
        sw_sum = weight_sum(swb)
        step_scalars(scalars, codes)
        squares = step_in_chunks(params, network, scalars, sw_sum)
        loss = mean_loss(total, sw_sum, sizes[n_layers], codes[OUTPUT])
        H.add_batch_loss(acc, loss, squares, hyper[ALPHA], sw_sum, nb)
        if H.end_batch(b, per_epoch, idx, params, scalars, rng_state, losses, shared):
            break
    return ctl[H.EPOCHS]


@jit
def predict_rows(X, network, theta, out):
    """Write the output layer's activations for the rows of CSR ``X`` into ``out``, block
    by block of :data:`.dense.PREDICT_BLOCK` rows (:func:`.dense.predict_block`)."""
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
        csr_product(X, order, r0, W0, Z1)
        predict_block(Z1, network, theta, scratch, out[r0:r1], GIVEN)
