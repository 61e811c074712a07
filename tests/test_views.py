"""The kernels' views (``fastnn/kernels/views.py``): borrowed ones have the same data,
shape and strides as the array but no reference count, nor have the views made from
them; :func:`matrix` is the reshaped run of a vector, and refuses a short one."""

import numba
import numpy as np
import pytest
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numpy.testing import assert_array_equal

from fastnn.kernels.views import borrow, borrow_args, matrix

pytestmark = pytest.mark.skipif(
    numba.config.DISABLE_JIT, reason="NUMBA_DISABLE_JIT=1: kernels run as Python, nothing counted"
)


@intrinsic
def _counted(typingctx, arr):
    """Whether compiled code counts references to ``arr`` (its meminfo is not null)."""

    def codegen(context, builder, signature, args):
        meminfo = context.make_array(arr)(context, builder, value=args[0]).meminfo
        return builder.not_(cgutils.is_null(builder, meminfo))

    return types.boolean(arr), codegen


@numba.njit
def _probe(A):
    """Counted: the argument, its borrow, a view of the borrow; and the borrow's view
    written through, then read back in the argument."""
    B = borrow(A)
    V = B[1:, ::2]
    V[0, 0] = -1.0
    return _counted(A), _counted(B), _counted(V), A[1, 0]


@numba.njit
def _shape_strides(A):
    B = borrow(A)
    return B.shape, B.strides, B.ctypes.data == A.ctypes.data, B.sum() == A.sum()


def test_borrowed_view_has_no_count_and_the_same_data():
    A = np.arange(12.0).reshape(3, 4)
    counted_arg, counted_borrow, counted_view, written = _probe(A)
    assert counted_arg and not counted_borrow and not counted_view
    assert written == -1.0 and A[1, 0] == -1.0


@pytest.mark.parametrize("view", [lambda A: A, lambda A: A[:, 1::2], lambda A: A.T])
def test_borrow_keeps_shape_strides_and_data(view):
    A = view(np.arange(24.0).reshape(4, 6))
    shape, strides, same_data, same_sum = _shape_strides(A)
    assert shape == A.shape and strides == A.strides and same_data and same_sum


@numba.njit
def _all_borrowed(data, network, params, scalars, work, rng_state, losses, shared):
    """How many of the epoch kernel's arguments are still counted once borrowed."""
    data, network, params, scalars, work, rng_state, losses, shared = borrow_args(
        data, network, params, scalars, work, rng_state, losses, shared
    )
    (X, Y, sw, idx), (sizes, codes), (theta, grad, state), (hyper, counts) = (
        data,
        network,
        params,
        scalars,
    )
    ctl, acc = shared
    counted = (
        _counted(X), _counted(Y), _counted(sw), _counted(idx), _counted(sizes),
        _counted(codes), _counted(theta), _counted(grad), _counted(state), _counted(hyper),
        _counted(counts), _counted(work), _counted(rng_state), _counted(losses),
        _counted(ctl), _counted(acc),
    )  # fmt: skip
    return np.array(counted).sum()


def test_borrow_args_borrows_every_array():
    f, i = np.zeros(3), np.zeros(3, dtype=np.int64)
    X, Y = np.zeros((2, 2)), np.zeros((2, 1))
    args = ((X, Y, f, i), (i, i), (f, f, f), (f, i), f, np.zeros(625, np.uint32), f, (i, f))
    assert _all_borrowed(*args) == 0


@numba.njit
def _matrix_of(vector, start, rows, cols):
    M = matrix(vector[start:], rows, cols)
    if rows * cols:
        M[0, 0] = -M[0, 0]  # writes through
    return M.copy(), M.strides, _counted(matrix(borrow(vector), rows, cols))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("start", "rows", "cols"), [(0, 3, 4), (5, 2, 3), (1, 1, 1), (2, 0, 4)])
def test_matrix_is_the_reshaped_run(dtype, start, rows, cols):
    vector = np.arange(1.0, 21.0, dtype=dtype)
    expected = vector[start : start + rows * cols].reshape((rows, cols)).copy()
    M, strides, counted = _matrix_of(vector, start, rows, cols)
    if rows * cols:
        expected[0, 0] = -expected[0, 0]
        assert vector[start] == expected[0, 0]
    np.testing.assert_array_equal(M, expected)
    assert strides == (cols * vector.itemsize, vector.itemsize) and not counted


@numba.njit
def _matrix_of_a_new_vector(n):
    # the vector's only other reference dies here: the matrix must keep it alive
    return matrix(np.arange(1.0, n + 1.0), 2, n // 2)


def test_matrix_keeps_its_memory_alive():
    M = _matrix_of_a_new_vector(4000)
    noise = [np.full(4000, -7.0) for _ in range(50)]  # reuse freed memory, if any
    assert_array_equal(M.ravel(), np.arange(1.0, 4001.0))
    assert len(noise) == 50


def test_matrix_refuses_a_short_vector():
    with pytest.raises(ValueError, match="shorter than rows"):
        _matrix_of(np.zeros(10), 4, 2, 4)
