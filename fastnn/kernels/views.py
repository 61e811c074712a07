"""Array views for the kernels, without two overheads that Numba adds to each view.

Reference counts. Every array that compiled code holds carries a pointer to a reference
count (Numba's ``meminfo``), and Numba adds one and takes one away (an atomic operation,
``NRT_incref`` / ``NRT_decref``) whenever a view is made, passed to a function or
dropped. An epoch
kernel makes dozens of small views per mini-batch (each layer's weights, activations and
deltas), so on small networks these atomics took most of the time. On two workers they
also bounce the counters' cache line between the cores.

:func:`borrow` returns the same array without that pointer: Numba skips the count of a
view whose ``meminfo`` is null (``NRT_incref`` returns at once), and of every view made
from it. This is safe for the arguments of a call from Python: the caller holds them
until the call returns, and the kernels return no view of them.

Measured on xor (2-4-1, batch 4, one worker; the epoch kernel called directly for
100,000 epochs): 2.61 to 1.26-1.36 us an epoch, with no reference count taken per
batch; moons, circles and digits fits 2-10% faster an epoch.

The layout check. ``vector[start:stop].reshape((rows, cols))`` calls a C function of
Numba's (``numba_attempt_nocopy_reshape``) to work out the strides of the new view, a
dozen times per mini-batch. The kernels' matrices are all row-major runs of a
contiguous vector, whose strides are known: :func:`matrix` makes them directly. Measured
as above: 1.24 to 0.89-0.98 us an epoch.

With ``NUMBA_DISABLE_JIT=1`` (kernels run as Python) intrinsics cannot run:
:func:`borrow` returns its argument, and :func:`matrix` reshapes.
"""

import numba
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array

from fastnn._jit import jit


@intrinsic
def borrow(typingctx, arr):
    """``arr`` itself, without its reference count (see the module's docstring)."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, signature, args):
        src = context.make_array(arr)(context, builder, value=args[0])
        dst = context.make_array(arr)(context, builder)
        for field in ("nitems", "itemsize", "data", "shape", "strides"):
            setattr(dst, field, getattr(src, field))
        dst.meminfo = cgutils.get_null_value(dst.meminfo.type)
        dst.parent = cgutils.get_null_value(dst.parent.type)
        return dst._getvalue()

    return arr(arr), codegen


@intrinsic
def _matrix(typingctx, vector, rows, cols):
    """:func:`matrix` without the length check."""
    if not (isinstance(vector, types.Array) and vector.ndim == 1 and vector.layout == "C"):
        return None
    mat = vector.copy(ndim=2, layout="C")

    def codegen(context, builder, signature, args):
        src = context.make_array(vector)(context, builder, value=args[0])
        dst = context.make_array(mat)(context, builder)
        n_rows = context.cast(builder, args[1], signature.args[1], types.intp)
        n_cols = context.cast(builder, args[2], signature.args[2], types.intp)
        populate_array(
            dst,
            data=src.data,
            shape=[n_rows, n_cols],
            strides=[builder.mul(n_cols, src.itemsize), src.itemsize],
            itemsize=src.itemsize,
            meminfo=src.meminfo,
        )
        context.nrt.incref(builder, vector, args[0])  # a new view of the same memory
        return dst._getvalue()

    return mat(vector, rows, cols), codegen


@jit(inline=True)
def matrix(vector, rows, cols):
    """The first ``rows * cols`` entries of the contiguous vector ``vector`` as a
    row-major ``rows x cols`` matrix: ``vector[:rows * cols].reshape((rows, cols))``
    without the C call that works out the strides."""
    if rows * cols > vector.shape[0]:
        raise ValueError("matrix: the vector is shorter than rows * cols")
    return _matrix(vector, rows, cols)


if numba.config.DISABLE_JIT:  # kernels run as Python: nothing is counted or compiled

    def borrow(arr):  # noqa: F811
        return arr

    def _matrix(vector, rows, cols):  # noqa: F811
        return vector[: rows * cols].reshape((rows, cols))


@jit(inline=True)
def borrow_args(data, network, params, scalars, work, rng_state, losses, shared):
    """An epoch kernel's arguments (:func:`fastnn.reference.run_epochs`' and ``shared``),
    every array borrowed."""
    X, Y, sw, idx = data
    sizes, codes = network
    theta, grad, state = params
    hyper, counts = scalars
    ctl, acc = shared
    return (
        (borrow(X), borrow(Y), borrow(sw), borrow(idx)),
        (borrow(sizes), borrow(codes)),
        (borrow(theta), borrow(grad), borrow(state)),
        (borrow(hyper), borrow(counts)),
        borrow(work),
        borrow(rng_state),
        borrow(losses),
        (borrow(ctl), borrow(acc)),
    )
