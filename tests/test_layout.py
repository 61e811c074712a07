"""The workspace's table of slots (``fastnn/layout.py``): within each epoch scheme no two
slots overlap, every slot fits in ``work_size``, and the compiled table is the same.

An overlap would let one buffer overwrite another mid-batch and silently corrupt a
gradient, so the table is checked over many shapes rather than trusted.
"""

import numba
import numpy as np
import pytest

from fastnn import layout
from fastnn.kernels import dense, epoch, handover, split
from fastnn.layout import ROW_SLOTS, UNIT_SLOTS, layer_sizes, n_params, work_size, workspace

SHAPES = [
    (2, (4,), 1, 4),  # XOR
    (2, (64, 64), 1, 64),  # moons
    (64, (128, 64), 10, 32),  # digits
    (2, (256, 256), 1, 32),  # the unit split
    (5, (3, 1), 3, 16),  # layers narrower than the output
    (300, (7,), 2, 1),  # wide input, batches of one row
    (3, (17, 33, 5), 40, 200),  # wide output
]


def overlapping(starts, lengths, slots):
    """The pairs of ``slots`` whose ranges of ``work`` overlap."""
    pairs = []
    for i, a in enumerate(slots):
        for b in slots[i + 1 :]:
            if starts[a] < starts[b] + lengths[b] and starts[b] < starts[a] + lengths[a]:
                pairs.append((a, b))
    return pairs


@pytest.mark.parametrize("scheme", [ROW_SLOTS, UNIT_SLOTS], ids=["rows", "units"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_no_two_slots_of_a_scheme_overlap(shape, scheme):
    n_in, hidden, n_out, capacity = shape
    sizes = layer_sizes(n_in, hidden, n_out)
    starts, lengths = workspace([int(n) for n in sizes], capacity, n_params(sizes))
    assert len(starts) == len(lengths) == layout.N_SLOTS
    assert overlapping(starts, lengths, scheme) == []
    size = work_size(sizes, capacity)
    for slot in scheme:
        assert 0 <= starts[slot] and lengths[slot] > 0
        assert starts[slot] + lengths[slot] <= size, slot


def test_the_check_finds_an_overlap():
    # The unit scheme's two column sums, moved one entry into each other.
    sizes = [2, 64, 64, 1]
    starts, lengths = workspace(sizes, 64, n_params(sizes))
    moved = list(starts)
    moved[layout.SUMS_1] = starts[layout.SUMS_0] + lengths[layout.SUMS_0] - 1
    assert overlapping(moved, lengths, UNIT_SLOTS) == [(layout.SUMS_0, layout.SUMS_1)]


def test_the_slots_hold_what_the_kernels_put_there():
    sizes = [5, 48, 32, 3]
    B, widest, units = 16, 48, 48 + 32 + 3
    starts, lengths = workspace(sizes, B, n_params(sizes))
    assert lengths[layout.X_BATCH] == B * 5 and lengths[layout.Y_BATCH] == B * 3
    assert lengths[layout.LAYERS] == 2 * B * units  # activations and deltas
    assert lengths[layout.GRADIENT_2] == n_params(sizes)
    assert lengths[layout.ROW_SCRATCH] == 2 * B * widest
    assert lengths[layout.PARTIALS] == 4 * B * widest
    # The two workers' column sums lie 16 entries (a cache line or more) apart.
    assert starts[layout.SUMS_1] - (starts[layout.SUMS_0] + lengths[layout.SUMS_0]) >= 16


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_the_compiled_table_is_the_same(shape):
    n_in, hidden, n_out, capacity = shape
    sizes = layer_sizes(n_in, hidden, n_out)
    expected = workspace([int(n) for n in sizes], capacity, n_params(sizes))
    got = _compiled_workspace(sizes, np.int64(capacity), np.int64(n_params(sizes)))
    assert tuple(map(tuple, got)) == expected


@numba.njit
def _compiled_workspace(sizes, capacity, n_params):
    return handover.workspace(sizes, capacity, n_params)


# --- Inside the slots: the pieces each scheme cuts three slots into -------------------


def _pieces_tile(pieces, length):
    """Whether the ``(start, stop)`` pieces cover ``0:length`` exactly, none overlapping."""
    covered = np.zeros(length, dtype=np.int64)
    for start, stop in pieces:
        if not 0 <= start <= stop <= length:
            return False
        covered[start:stop] += 1
    return bool(np.all(covered == 1))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_the_layer_buffers_tile_their_slot(shape):
    n_in, hidden, n_out, capacity = shape
    sizes = [int(n) for n in layer_sizes(n_in, hidden, n_out)]
    length = workspace(sizes, capacity, n_params(sizes))[1][layout.LAYERS]
    pieces = []
    for which in (0, 1):  # activations, deltas
        for i in range(len(sizes) - 1):
            start = layout.layer_start(sizes, length, i, which)
            pieces.append((start, start + capacity * sizes[i + 1]))
    assert _pieces_tile(pieces, length)
    assert work_size(sizes, capacity, gather=False) == length  # the one-batch workspace


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_the_partial_products_tile_their_slot(shape):
    n_in, hidden, n_out, capacity = shape
    sizes = [int(n) for n in layer_sizes(n_in, hidden, n_out)]
    widest = max(sizes[1:])
    length = workspace(sizes, capacity, n_params(sizes))[1][layout.PARTIALS]
    pieces = []
    for layer in (0, 1):  # layers alternate between two pairs of blocks
        for share in (0, 1):
            start = layout.partial_start(layer, share, capacity, widest)
            pieces.append((start, start + capacity * widest))
    assert _pieces_tile(pieces, length)
    # Layers two apart reuse a pair; neighbouring layers never share a block.
    assert layout.partial_start(2, 1, capacity, widest) == pieces[1][0]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_the_row_blocks_scratch_tiles_its_slot(shape):
    n_in, hidden, n_out, capacity = shape
    sizes = [int(n) for n in layer_sizes(n_in, hidden, n_out)]
    length = workspace(sizes, capacity, n_params(sizes))[1][layout.ROW_SCRATCH]
    for nb in range(1, capacity + 1):  # a batch's two blocks, as kernels/epoch.py cuts it
        mid = (nb + 1) // 2
        pieces = [layout.row_scratch(sizes, 0, mid), layout.row_scratch(sizes, mid, nb)]
        if nb == capacity:
            assert _pieces_tile(pieces, length)
        else:
            assert pieces[0][1] == pieces[1][0] and pieces[1][1] <= length


def test_the_tiling_check_finds_an_overlap():
    assert _pieces_tile([(0, 4), (4, 8)], 8)
    assert not _pieces_tile([(0, 5), (4, 8)], 8)  # one entry in two pieces
    assert not _pieces_tile([(0, 4), (5, 8)], 8)  # one entry in none


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_the_compiled_pieces_are_the_same(shape):
    n_in, hidden, n_out, capacity = shape
    sizes = layer_sizes(n_in, hidden, n_out)
    widest = int(sizes[1:].max())
    length = 2 * capacity * int(sizes[1:].sum())
    got = _compiled_pieces(sizes, np.int64(length), np.int64(capacity), np.int64(widest))
    plain = [int(n) for n in sizes]
    expected = [
        [layout.layer_start(plain, length, i, which) for which in (0, 1)]
        for i in range(len(sizes) - 1)
    ]
    assert got[0] == expected
    assert got[1] == layout.partial_start(1, 1, capacity, widest)
    assert got[2] == layout.row_scratch(plain, 1, capacity)


@numba.njit
def _compiled_pieces(sizes, length, capacity, widest):
    # The kernels' compiled copies have no Python wrapper (fastnn/_jit.py: INTERNAL).
    starts = [[dense.layer_start(sizes, length, i, which) for which in (0, 1)]
              for i in range(sizes.shape[0] - 1)]  # fmt: skip
    partial = split.partial_start(np.int64(1), np.int64(1), capacity, widest)
    return starts, partial, epoch.row_scratch(sizes, np.int64(1), capacity)


# --- The flat vector a fit trains -------------------------------------------------------


def test_flat_base_finds_the_vector_of_unpack_views_and_nothing_else():
    sizes = [3, 4, 2]
    theta = np.arange(n_params(sizes), dtype=np.float64)
    coefs, intercepts = layout.unpack(theta, sizes)
    assert layout.flat_base(coefs, intercepts, np.float64) is theta
    assert layout.flat_base(coefs, intercepts, np.float32) is None  # another dtype
    copies = [W.copy() for W in coefs]
    assert layout.flat_base(copies, intercepts, np.float64) is None  # arrays of their own
    swapped = [coefs[0], coefs[1]], [intercepts[1], intercepts[0]]
    assert layout.flat_base(*swapped, np.float64) is None  # views, in the wrong places
    theta.flags.writeable = False
    assert layout.flat_base(coefs, intercepts, np.float64) is None  # not to be trained
    bigger = np.zeros(n_params(sizes) + 1)
    assert layout.flat_base(*layout.unpack(bigger, sizes), np.float64) is None


def test_a_new_fit_trains_its_initial_weights_in_place_and_a_later_one_a_copy():
    import warnings

    from fastnn import MLPClassifier

    rng = np.random.RandomState(0)
    X, y = rng.randn(64, 3), rng.randint(0, 2, 64)
    model = MLPClassifier((5,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
        base = model.coefs_[0].base
        # every parameter is a view of one vector, which the fit trained (no copy)
        assert all(p.base is base for p in model.coefs_ + model.intercepts_)
        held = model.coefs_[0]
        before = held.copy()
        model.partial_fit(X, y)  # continues: trains a copy, held arrays stay as they were
    np.testing.assert_array_equal(held, before)
    assert not np.array_equal(model.coefs_[0], before)


def test_initial_weights_drawn_by_blocks_are_one_call_s_draws():
    # engine.new_parameters draws a large W by blocks of rows: the same numbers, in the
    # same order, as one call of scikit-learn's kind.
    from fastnn import MLPClassifier, engine

    model = MLPClassifier((300,), random_state=0)
    model._sizes = layer_sizes(500, (300,), 1)  # 150,000 weights: three blocks
    model.activation = "relu"
    coefs, intercepts = engine.new_parameters(model, np.float64, np.random.RandomState(7))
    rng = np.random.RandomState(7)
    for W, b in zip(coefs, intercepts):
        bound = np.sqrt(6.0 / (W.shape[0] + W.shape[1]))
        np.testing.assert_array_equal(W, rng.uniform(-bound, bound, W.shape))
        np.testing.assert_array_equal(b, rng.uniform(-bound, bound, b.shape))
    assert 500 * 300 > engine.DRAW_BLOCK
