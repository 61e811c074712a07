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


def _ints(sizes):
    """Layer sizes as a list of Python ints: arithmetic on them costs a fraction of
    NumPy's on a few scalars, which a small fit's fixed cost pays several times
    (``n_params`` of a 2-4-1 network: 0.6 us this way, 3.7 us with ``np.sum``)."""
    return sizes.tolist() if isinstance(sizes, np.ndarray) else [int(s) for s in sizes]


def n_params(sizes):
    """Number of weights and biases of a network with these layer sizes."""
    sizes = _ints(sizes)
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) + sum(sizes[1:])


def offsets(sizes):
    """Start offsets of each ``W[i]`` and each ``b[i]`` in the flat vector."""
    sizes = _ints(sizes)
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
    sizes = _ints(sizes)
    W_start, b_start = offsets(sizes)
    coefs, intercepts = [], []
    for i in range(len(sizes) - 1):
        fan_in, fan_out = sizes[i], sizes[i + 1]
        coefs.append(theta[W_start[i] : W_start[i] + fan_in * fan_out].reshape(fan_in, fan_out))
        intercepts.append(theta[b_start[i] : b_start[i] + fan_out])
    return coefs, intercepts


def pack(coefs, intercepts, dtype):
    """One new flat vector holding copies of the given weights and biases."""
    return np.concatenate([np.ravel(p) for p in [*coefs, *intercepts]], dtype=dtype)


def flat_base(coefs, intercepts, dtype):
    """The flat vector of ``dtype`` that ``coefs`` and ``intercepts`` are the
    :func:`unpack` views of, if it is writable and aligned, or None (then :func:`pack`
    copies them). A new fit trains that vector in place."""
    base = coefs[0].base if coefs else None
    if not (isinstance(base, np.ndarray) and base.ndim == 1 and base.dtype == dtype):
        return None
    if not (base.flags.writeable and base.flags.aligned):
        return None
    sizes = [coefs[0].shape[0], *(W.shape[1] for W in coefs)]
    if base.shape[0] != n_params(sizes) or not base.flags.c_contiguous:
        return None
    expected = unpack(base, sizes)
    if len(coefs) + len(intercepts) != 2 * len(expected[0]):
        return None
    W_start, b_start = offsets(sizes)
    # An address costs a dict (__array_interface__): the base's once, then one per view.
    address = base.__array_interface__["data"][0]
    views = zip([*coefs, *intercepts], [*expected[0], *expected[1]], [*W_start, *b_start])
    same = all(
        p.base is base and p.shape == e.shape and p.strides == e.strides
        and p.__array_interface__["data"][0] == address + start * base.itemsize
        for p, e, start in views
    )  # fmt: skip
    return base if same else None


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


# Slots of the numba engine's workspace, the ``work`` vector of a mini-batch fit. In
# order: one batch of inputs, targets and sample weights (gathered from the shuffled
# rows); every layer's activations then every layer's deltas (:mod:`.kernels.dense`);
# a second gradient vector. What follows is scratch space, which the two epoch schemes
# use in two different ways (a fit runs one scheme): the row scheme
# (:mod:`.kernels.epoch`) has room for :func:`.kernels.dense.backpropagate`, two rows of
# the widest layer per batch row; the unit scheme (:mod:`.kernels.split`) has four
# partial products of the widest layer (two pairs), worker 1's own output and output
# delta, and each share's column sums, a cache line apart.
(
    X_BATCH,
    Y_BATCH,
    SW_BATCH,
    LAYERS,
    GRADIENT_2,
    ROW_SCRATCH,
    PARTIALS,
    OUTPUT_1,
    OUTPUT_DELTA_1,
    SUMS_0,
    SUMS_1,
) = np.arange(11)  # int64, not literals: the kernels index the table with one getitem
N_SLOTS = 11
# The slots of each scheme: within one, no two overlap (tests/test_layout.py).
ROW_SLOTS = (X_BATCH, Y_BATCH, SW_BATCH, LAYERS, GRADIENT_2, ROW_SCRATCH)
UNIT_SLOTS = (X_BATCH, Y_BATCH, SW_BATCH, LAYERS, GRADIENT_2, PARTIALS, OUTPUT_1,
              OUTPUT_DELTA_1, SUMS_0, SUMS_1)  # fmt: skip


def workspace(sizes, capacity, n_params):
    """The table of the workspace's slots for batches of up to ``capacity`` rows:
    ``(starts, lengths)``, two tuples indexed by the slot names above. The one place
    that lays ``work`` out; the kernels take their views from it (compiled, as
    :func:`fastnn.kernels.handover.workspace`).

    ``PARTIALS`` holds four ``capacity x widest`` blocks, ``((layer % 2) * 2 + share)``
    in order, and ``ROW_SCRATCH`` ``2 x widest`` entries per batch row.
    """
    B = capacity
    units = 0
    widest = 0
    for j in range(1, len(sizes)):
        units += sizes[j]
        widest = max(widest, sizes[j])
    n_in = sizes[0]
    n_out = sizes[len(sizes) - 1]
    X_start = 0 * B  # typed like the rest (a literal 0 would make the table two types)
    Y_start = X_start + B * n_in
    sw_start = Y_start + B * n_out
    layers_start = sw_start + B
    grad_start = layers_start + 2 * B * units
    scratch = grad_start + n_params
    out_start = scratch + 4 * B * widest
    delta_start = out_start + B * n_out
    sums_start = delta_start + B * n_out
    starts = (X_start, Y_start, sw_start, layers_start, grad_start, scratch, scratch,
              out_start, delta_start, sums_start, sums_start + widest + 16)  # fmt: skip
    lengths = (B * n_in, B * n_out, B, 2 * B * units, n_params, 2 * B * widest,
               4 * B * widest, B * n_out, B * n_out, widest, widest)  # fmt: skip
    return starts, lengths


# Inside three slots, the pieces each scheme cuts them into. Plain Python, like
# :func:`workspace`, that the kernels run compiled: no kernel does buffer arithmetic of
# its own (tests/test_layout.py checks that the pieces tile their slots).


def layer_start(sizes, slot_length, i, which):
    """Where layer ``i``'s activations (``which`` 0) or deltas (``which`` 1) start in
    the ``LAYERS`` slot of ``slot_length`` entries, which holds every layer's
    activations for as many rows as it has room for, then every layer's deltas."""
    units = 0
    for j in range(1, len(sizes)):
        units += sizes[j]
    capacity = slot_length // (2 * units)
    start = which * capacity * units
    for j in range(1, i + 1):
        start += capacity * sizes[j]
    return start


def partial_start(layer, share, capacity, widest):
    """Where share ``share``'s partial product of layer ``layer`` starts in the
    ``PARTIALS`` slot (the unit scheme): four ``capacity x widest`` blocks, layers
    alternating between two pairs, so that a share writes the next layer's part while
    the other may still read this one's."""
    return ((layer % 2) * 2 + share) * capacity * widest


def row_scratch(sizes, r0, r1):
    """``(start, stop)`` of the block of rows ``r0:r1``'s room in the ``ROW_SCRATCH``
    slot (the row scheme): two rows of the widest layer per batch row, so that two
    blocks never share any."""
    widest = 0
    for j in range(1, len(sizes)):
        widest = max(widest, sizes[j])
    return 2 * widest * r0, 2 * widest * r1


def work_size(sizes, capacity, gather=True, sparse=False):
    """Length of the numba engine's workspace for batches of up to ``capacity`` rows.

    Without ``gather`` (one batch forward and backward, :mod:`fastnn.kernels.dense`) it
    holds every layer's activations and deltas; with it (mini-batch training), every
    slot of :func:`workspace`. With ``sparse`` (:mod:`fastnn.kernels.sparse`, which
    gathers no batch of inputs and has no second gradient), those slots are empty: the
    table is ``workspace(sizes with no inputs, capacity, 0)``, as that kernel makes it.
    """
    sizes = _ints(sizes)
    if not gather:
        return 2 * capacity * sum(sizes[1:])
    if sparse:
        starts, lengths = workspace([0, *sizes[1:]], capacity, 0)
    else:
        starts, lengths = workspace(sizes, capacity, n_params(sizes))
    return max(start + length for start, length in zip(starts, lengths))
