"""Dense-layer kernels: forward and backward over one mini-batch, in preallocated buffers.

Buffers. ``theta`` and ``grad`` are flat vectors in :mod:`fastnn.layout` order. ``work``
holds, for a batch capacity ``B``, every layer's activations ``A_1 .. A_L`` (``B`` rows
each) followed by every layer's deltas; a batch of ``nb <= B`` rows uses the first
``nb`` rows of each. Views are carved out of these vectors: no allocation per batch.
Matrix products go to BLAS through ``np.dot(a, b, out)``, except tiny ones (at most
``SMALL_PRODUCT`` multiply-adds), where a BLAS call costs more than the arithmetic and
plain loops win.
"""

import numpy as np

from fastnn import layout
from fastnn._codes import ALPHA, HIDDEN, OUTPUT
from fastnn._codes import IDENTITY as IDENTITY_CODE
from fastnn._jit import jit
from fastnn.kernels.activations import (
    activation_derivative,
    add_bias_activate,
    dropout,
    dropout_derivative,
    dropout_rate,
    output_activate,
)
from fastnn.kernels.losses import loss_sum, mean_loss, output_delta, penalty, weight_sum
from fastnn.kernels.views import matrix

SMALL_PRODUCT = 512
# Back-propagating a block's delta through a layer (``delta @ W.T``) ran at about half
# the speed of the other products on this machine's OpenBLAS for mid-sized blocks:
# 8.8 us for 16 rows, 128 <- 64, against 6.1 us for transposing the delta into scratch
# space, ``W @ delta.T`` there, and transposing back (7.5 against 6.3 us for 32 rows,
# 64 <- 64). Measured over 20 shapes, the transposed way won for blocks of at most
# TRANSPOSED_MAX_ROWS rows, a fan-in at least the fan-out, and more than
# TRANSPOSED_MIN_WORK but at most TRANSPOSED_MAX_WORK multiply-adds; elsewhere (16 rows,
# 64 <- 64; 32 rows, 128 <- 128; 64 rows; fan-in below fan-out) the direct product did.
TRANSPOSED_MAX_ROWS = 32
TRANSPOSED_MIN_WORK = 65_536
TRANSPOSED_MAX_WORK = 262_144

# Arguments typed int64 or bool, not literals: a literal argument compiles one more copy
# of the function it is passed to (and of everything that function passes it to).
ACTIVATIONS, DELTAS = np.int64(0), np.int64(1)  # layer_buffer's ``which``
IDENTITY = np.int64(IDENTITY_CODE)  # the output layer's pre-activation
FIRST = np.int64(0)
ONE_PART = np.int64(1)  # finish_range's ``n_parts`` for a one-block gradient
PENALISED, NOT_PENALISED = np.bool_(True), np.bool_(False)
# forward_rows' and backward_rows' ``given``: whether the caller does the first layer's
# products (sparse X, :mod:`.sparse`).
DENSE, GIVEN = np.bool_(False), np.bool_(True)

# Where each layer's rows lie in the LAYERS slot: the layout's arithmetic, compiled.
layer_start = jit(layout.layer_start, internal=True)


@jit(internal=True)
def matmul(A, B, C):
    """``C = A @ B``."""
    n, k = A.shape
    m = B.shape[1]
    if n * k * m > SMALL_PRODUCT:
        np.dot(A, B, C)
        return
    matmul_loops(A, B, C)


@jit(internal=True)
def matmul_loops(A, B, C):
    """``C = A @ B`` in plain loops, for tiny products (any strides)."""
    n, k = A.shape
    m = B.shape[1]
    for i in range(n):
        for j in range(m):
            C[i, j] = 0
        for p in range(k):
            a = A[i, p]
            for j in range(m):
                C[i, j] += a * B[p, j]


@jit(internal=True)
def matmul_tn(A, B, C):
    """``C = A.T @ B``."""
    n, k = A.shape
    m = B.shape[1]
    if n * k * m > SMALL_PRODUCT:
        np.dot(A.T, B, C)
        return
    for p in range(k):
        for j in range(m):
            C[p, j] = 0
    for i in range(n):
        for p in range(k):
            a = A[i, p]
            for j in range(m):
                C[p, j] += a * B[i, j]


@jit(internal=True)
def matmul_nt(A, B, C):
    """``C = A @ B.T``."""
    n, m = A.shape
    k = B.shape[0]
    if n * k * m > SMALL_PRODUCT:
        np.dot(A, B.T, C)
        return
    for i in range(n):
        for p in range(k):
            total = 0.0
            for j in range(m):
                total += A[i, j] * B[p, j]
            C[i, p] = total


@jit(internal=True)
def transposed_pays(rows, fan_in, fan_out):
    """Whether :func:`backpropagate` goes through the transposed product for a block of
    ``rows`` rows and a ``fan_in <- fan_out`` layer (see :data:`TRANSPOSED_MAX_ROWS`)."""
    work = rows * fan_in * fan_out
    return (
        rows <= TRANSPOSED_MAX_ROWS
        and fan_in >= fan_out
        and TRANSPOSED_MIN_WORK < work <= TRANSPOSED_MAX_WORK
    )


@jit(internal=True)
def backpropagate(delta, W, delta_prev, scratch):
    """``delta_prev = delta @ W.T``: through ``W @ delta.T`` in ``scratch`` when the
    shapes favour it (see :data:`TRANSPOSED_MAX_ROWS`) and ``scratch`` has room for
    it, directly otherwise."""
    rows, fan_out = delta.shape
    fan_in = W.shape[0]
    if transposed_pays(rows, fan_in, fan_out) and scratch.shape[0] >= (fan_in + fan_out) * rows:
        DT = matrix(scratch, fan_out, rows)
        PT = matrix(scratch[fan_out * rows :], fan_in, rows)
        for r in range(rows):
            for c in range(fan_out):
                DT[c, r] = delta[r, c]
        np.dot(W, DT, PT)
        for r in range(rows):
            for c in range(fan_in):
                delta_prev[r, c] = PT[c, r]
    else:
        matmul_nt(delta, W, delta_prev)


@jit(internal=True)
def count_weights(sizes):
    """How many weights (the leading entries of ``theta``) the layers ``sizes`` have."""
    n_weights = np.int64(0)
    for i in range(sizes.shape[0] - 1):
        n_weights += sizes[i] * sizes[i + 1]
    return n_weights


@jit(internal=True)
def layer_offsets(sizes, i):
    """Where layer ``i``'s ``W`` and ``b`` start in a flat vector (:mod:`fastnn.layout`)."""
    W_start = 0
    b_start = 0
    for j in range(sizes.shape[0] - 1):
        if j < i:
            W_start += sizes[j] * sizes[j + 1]
            b_start += sizes[j + 1]
        b_start += sizes[j] * sizes[j + 1]
    return W_start, b_start


@jit(internal=True)
def layer_params(theta, sizes, i):
    """Views ``(W, b)`` of layer ``i`` inside the flat vector ``theta``."""
    W_start, b_start = layer_offsets(sizes, i)
    fan_in, fan_out = sizes[i], sizes[i + 1]
    W = matrix(theta[W_start:], fan_in, fan_out)
    b = theta[b_start : b_start + fan_out]
    return W, b


@jit(internal=True)
def layer_buffer(work, sizes, i, nb, which):
    """View of the first ``nb`` rows of layer ``i``'s activations (``which=0``) or
    deltas (``which=1``) inside ``work``, the ``LAYERS`` slot
    (:func:`fastnn.layout.layer_start`)."""
    start = layer_start(sizes, work.shape[0], i, which)
    units = sizes[i + 1]
    return matrix(work[start:], nb, units)


@jit(inline=True)
def forward_rows(X, network, theta, scalars, work, rows, given):
    """:func:`forward` for the rows ``r0:r1`` of an ``nb``-row batch, ``rows = (r0, r1,
    nb)``: ``X`` holds those rows, and each layer's activations go to the same rows of
    its buffer. With ``given`` (sparse ``X``, :mod:`.sparse`), the caller has written
    the first layer's product ``X W`` into its buffer, and ``X`` is not read."""
    sizes, codes = network
    r0, r1, nb = rows
    n_layers = sizes.shape[0] - 1
    A = X
    for i in range(n_layers):
        W, b = layer_params(theta, sizes, i)
        Z = layer_buffer(work, sizes, i, nb, ACTIVATIONS)[r0:r1]
        if i > 0 or not given:
            matmul(A, W, Z)
        if i < n_layers - 1:
            add_bias_activate(Z, b, codes[HIDDEN])
            p = dropout_rate(scalars, i)
            if p > 0:
                dropout(Z, p, scalars, i, r0)
        else:
            add_bias_activate(Z, b, IDENTITY)
            output_activate(Z, codes[OUTPUT])
        A = Z


@jit
def forward(X, network, theta, scalars, work):
    """Fill each layer's activations in ``work``: ``Z = A W + b``, ``A' = f(Z)``, with
    dropout on the hidden layers that have a rate in ``scalars``."""
    nb = X.shape[0]
    forward_rows(X, network, theta, scalars, work, (FIRST, nb, nb), DENSE)


@jit(inline=True)
def backward_rows(batch, network, theta, grad, scalars, work, rows, scratch, given):
    """The data term's gradient summed over the rows ``r0:r1`` of an ``nb``-row batch
    (``rows = (r0, r1, nb)``; ``batch = (X, Y, sw)`` holds those rows), into ``grad``:
    ``dW = A_prev.T @ delta``, ``db = sum(delta)``, not yet divided by the batch's
    weight nor penalised (:func:`finish_gradient` does both), so that the sums of
    several blocks of rows add up to the batch's. ``scratch`` is room for
    :func:`backpropagate` (an empty view: none). With ``given`` (sparse ``X``), the
    first layer's ``dW`` is left to the caller, which has its ``delta`` in the buffer."""
    X, Y, sw = batch
    sizes, codes = network
    r0, r1, nb = rows
    n_layers = sizes.shape[0] - 1
    A_out = layer_buffer(work, sizes, n_layers - 1, nb, ACTIVATIONS)[r0:r1]
    delta = layer_buffer(work, sizes, n_layers - 1, nb, DELTAS)[r0:r1]
    output_delta(A_out, Y, sw, codes[OUTPUT], delta)
    for i in range(n_layers - 1, -1, -1):
        if i > 0:
            A_prev = layer_buffer(work, sizes, i - 1, nb, ACTIVATIONS)[r0:r1]
        else:
            A_prev = X
        W, _ = layer_params(theta, sizes, i)
        dW, db = layer_params(grad, sizes, i)
        if i > 0 or not given:
            matmul_tn(A_prev, delta, dW)
        fan_out = W.shape[1]
        for c in range(fan_out):
            db[c] = 0
        for r in range(r1 - r0):
            for c in range(fan_out):
                db[c] += delta[r, c]
        if i > 0:
            delta_prev = layer_buffer(work, sizes, i - 1, nb, DELTAS)[r0:r1]
            backpropagate(delta, W, delta_prev, scratch)
            p = dropout_rate(scalars, i - 1)
            if p > 0:
                dropout_derivative(A_prev, delta_prev, codes[HIDDEN], p, scalars, i - 1, r0)
            else:
                activation_derivative(A_prev, delta_prev, codes[HIDDEN])
            delta = delta_prev


@jit(internal=True)
def finish_slice(g, o, n_parts, W, alpha, sw_sum, penalised):
    """:func:`finish_range`'s loop, from index 0 (so that LLVM vectorises it)."""
    for k in range(g.shape[0]):
        total = g[k] + o[k] if n_parts == 2 else g[k]
        if penalised:
            g[k] = (total + alpha * W[k]) / sw_sum
        else:
            g[k] = total / sw_sum


@jit(internal=True)
def finish_range(sums, theta, n_weights, alpha, sw_sum, k0, k1):
    """Turn the summed data-term gradients ``sums = (grad, other, n_parts)`` into the
    mean loss's gradient on the entries ``k0:k1``, in ``grad``: ``dW = (sum + alpha W)
    / sum(sw)``, ``db = sum / sum(sw)``, where ``sum`` is ``grad`` plus, when ``n_parts
    == 2``, the second block's sum in ``other`` (the first ``n_weights`` entries of the
    vectors are weights, the rest biases)."""
    grad, other, n_parts = sums
    w1 = max(k0, min(k1, n_weights))
    finish_slice(grad[k0:w1], other[k0:w1], n_parts, theta[k0:w1], alpha, sw_sum, PENALISED)
    finish_slice(grad[w1:k1], other[w1:k1], n_parts, theta[w1:k1], alpha, sw_sum, NOT_PENALISED)


@jit(internal=True)
def finish_gradient(grad, theta, sizes, alpha, sw_sum):
    """:func:`finish_range` on the whole of a one-block gradient ``grad``."""
    sums = (grad, grad, ONE_PART)
    finish_range(sums, theta, count_weights(sizes), alpha, sw_sum, FIRST, grad.shape[0])


@jit
def backward(X, Y, sw, network, theta, grad, scalars, work):
    """Write the gradient of the mean loss into ``grad``, from the activations that
    :func:`forward` left in ``work``."""
    hyper, _ = scalars
    nb = Y.shape[0]
    sw_sum = weight_sum(sw)
    backward_rows((X, Y, sw), network, theta, grad, scalars, work, (FIRST, nb, nb), work[:0], DENSE)
    finish_gradient(grad, theta, network[0], hyper[ALPHA], sw_sum)


@jit(internal=True)
def rows_loss_grad(batch, network, theta, grad, scalars, work, rows):
    """Forward and backward over the rows ``r0:r1`` of an ``nb``-row batch (``rows =
    (r0, r1, nb)``; ``batch = (X, Y, sw)`` holds those rows): the summed data-term
    gradient goes to ``grad`` (see :func:`backward_rows`); returns :func:`loss_sum` over
    the rows."""
    X, Y, sw = batch
    sizes, codes = network
    r0, r1, nb = rows
    forward_rows(X, network, theta, scalars, work, rows, DENSE)
    A_out = layer_buffer(work, sizes, sizes.shape[0] - 2, nb, ACTIVATIONS)[r0:r1]
    total = loss_sum(A_out, Y, sw, codes[OUTPUT])
    backward_rows(batch, network, theta, grad, scalars, work, rows, work[:0], DENSE)
    return total


@jit
def batch_loss_grad(X, Y, sw, network, theta, grad, scalars, work):
    """Loss (data term plus penalty) on one batch, and its gradient into ``grad``."""
    hyper, _ = scalars
    sizes, codes = network
    nb = X.shape[0]
    sw_sum = weight_sum(sw)
    total = rows_loss_grad((X, Y, sw), network, theta, grad, scalars, work, (FIRST, nb, nb))
    alpha = hyper[ALPHA]
    loss = mean_loss(total, sw_sum, Y.shape[1], codes[OUTPUT])
    loss += penalty(theta, sizes, alpha, sw_sum)
    finish_gradient(grad, theta, sizes, alpha, sw_sum)
    return loss


# Prediction runs block by block of PREDICT_BLOCK rows, every layer for one block before
# the next: its activations stay in the core's cache, and no array of every row's
# activations is made (for 100,000 rows of a 64-unit layer, 51 MB that the system
# zeroes page by page on first touch). 20-64-64-2 network, 100,000 rows, float64, one
# thread, three runs each, medians: 55 ms a layer at a time (BLAS on two threads), and
# by blocks of 64, 128 and 256 rows 20.5, 20.1 and 24.0 ms (512 and 1,024: 23-26 ms).
PREDICT_BLOCK = 128


@jit(inline=True)
def predict_block(A, network, theta, scratch, out, given):
    """Write the output layer's activations for the rows of ``A`` into ``out``, each
    hidden layer's in ``scratch`` (two blocks of room for as many rows of the widest
    layer). With ``given`` (sparse input, :mod:`.sparse`), ``A`` is already the first
    layer's product ``X W``, in the place that layer's activations go (``out`` if it is
    the output layer, else the start of ``scratch``)."""
    sizes, codes = network
    n_layers = sizes.shape[0] - 1
    room = scratch.shape[0] // 2
    rows = out.shape[0]
    for i in range(n_layers):
        W, b = layer_params(theta, sizes, i)
        if i < n_layers - 1:
            Z = matrix(scratch[(i % 2) * room :], rows, sizes[i + 1])
            if i > 0 or not given:
                matmul(A, W, Z)
            add_bias_activate(Z, b, codes[HIDDEN])
        else:
            Z = out
            if i > 0 or not given:
                matmul(A, W, Z)
            add_bias_activate(Z, b, IDENTITY)
            output_activate(Z, codes[OUTPUT])
        A = Z


@jit(inline=True)
def predict_scratch(sizes, dtype_like):
    """Room for :func:`predict_block`: two blocks of :data:`PREDICT_BLOCK` rows of the
    widest hidden layer, of ``dtype_like``'s dtype."""
    widest = 1
    for i in range(1, sizes.shape[0] - 1):
        widest = max(widest, sizes[i])
    return np.empty(2 * PREDICT_BLOCK * widest, dtype=dtype_like.dtype)


@jit
def predict_rows(X, network, theta, out):
    """Write the output layer's activations for the rows of ``X`` into ``out``, block
    by block of :data:`PREDICT_BLOCK` rows (allocates two blocks of scratch space)."""
    scratch = predict_scratch(network[0], theta)
    for r0 in range(0, X.shape[0], PREDICT_BLOCK):
        r1 = min(X.shape[0], r0 + PREDICT_BLOCK)
        predict_block(X[r0:r1], network, theta, scratch, out[r0:r1], DENSE)


@jit
def predict(X, network, theta):
    """The output layer's activations for ``X`` (a new array; :func:`predict_rows`)."""
    sizes, _ = network
    out = np.empty((X.shape[0], sizes[sizes.shape[0] - 1]), dtype=theta.dtype)
    predict_rows(X, network, theta, out)
    return out
