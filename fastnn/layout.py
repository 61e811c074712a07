"""Flat parameter layout: every weight and bias of a network in one vector.

The order is scikit-learn's ``_pack``: all weight matrices ``W[0], W[1], ...`` (row-major),
then all bias vectors ``b[0], b[1], ...``. Gradients and optimizer state share the
layout, so an optimizer step is one loop over one vector, and L-BFGS sees exactly the
vector scikit-learn hands to SciPy.
"""

import numpy as np


def layer_sizes(n_features, hidden_layer_sizes, n_outputs):
    """Units per layer, input to output, as the int64 array the kernels take."""
    return np.array([n_features, *hidden_layer_sizes, n_outputs], dtype=np.int64)


def n_params(sizes):
    """Number of weights and biases of a network with these layer sizes."""
    sizes = np.asarray(sizes)
    return int(np.sum(sizes[:-1] * sizes[1:]) + np.sum(sizes[1:]))


def offsets(sizes):
    """Start offsets of each ``W[i]`` and each ``b[i]`` in the flat vector."""
    sizes = [int(s) for s in sizes]
    W_start, b_start = [], []
    start = 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        W_start.append(start)
        start += fan_in * fan_out
    for fan_out in sizes[1:]:
        b_start.append(start)
        start += fan_out
    return W_start, b_start


def unpack(theta, sizes):
    """Per-layer views ``(W, b)`` into a flat vector; writing to them writes ``theta``."""
    W_start, b_start = offsets(sizes)
    coefs, intercepts = [], []
    for i in range(len(sizes) - 1):
        fan_in, fan_out = int(sizes[i]), int(sizes[i + 1])
        coefs.append(theta[W_start[i] : W_start[i] + fan_in * fan_out].reshape(fan_in, fan_out))
        intercepts.append(theta[b_start[i] : b_start[i] + fan_out])
    return coefs, intercepts


def pack(coefs, intercepts, dtype):
    """One new flat vector holding copies of the given weights and biases."""
    return np.concatenate([np.ravel(p) for p in [*coefs, *intercepts]]).astype(dtype)


def aligned_zeros(length, dtype, alignment=64):
    """A zeroed vector whose data starts on an ``alignment``-byte boundary (a cache
    line). NumPy only promises 16 bytes; the model-parallel kernel's two workers write
    neighbouring blocks of columns of the same rows, and a line holding the end of one
    block and the start of the next would bounce between the cores
    (:mod:`fastnn.kernels.split`). Inside the vector, the layer buffers those blocks are
    in start at multiples of 16 entries when the batch is a multiple of 16 rows."""
    dtype = np.dtype(dtype)
    extra = alignment // dtype.itemsize
    buffer = np.zeros(length + extra, dtype=dtype)
    skip = (-buffer.ctypes.data % alignment) // dtype.itemsize
    return buffer[skip : skip + length]


def work_size(sizes, capacity, gather=True):
    """Length of the numba engine's scratch vector for batches of up to ``capacity`` rows.

    It holds every layer's activations and deltas and, with ``gather`` (mini-batch
    training), room to copy one batch of inputs, targets and sample weights in front,
    a second gradient vector (for a batch's second block of rows, see
    :mod:`fastnn.kernels.epoch`), and scratch space for each block's back-propagation
    or for the model-parallel kernel's partial products (:mod:`fastnn.kernels.split`).
    """
    sizes = [int(s) for s in sizes]
    length = 2 * capacity * sum(sizes[1:])
    if gather:
        length += capacity * (sizes[0] + sizes[-1] + 1) + n_params(sizes)
        # scratch: dense.backpropagate's (two blocks of rows), or the model-parallel
        # kernel's (kernels/split.py: two pairs of partial products, share 1's own
        # output and output delta, and each share's column sums, a cache line apart)
        widest = max(sizes[1:])
        length += 4 * capacity * widest + 2 * capacity * sizes[-1] + 2 * (widest + 16)
    return length
