"""Matrix products on strided views, straight to BLAS's ``gemm``.

Numba's ``np.dot(a, b, out)`` wants contiguous arrays: it copies any other view into a
new array first (an allocation per call). A block of columns of a row-major matrix,
``W[:, c0:c1]``, is not contiguous, yet BLAS multiplies it in place: its rows are a
fixed distance apart (the "leading dimension"). :func:`gemm` passes such views to BLAS
as they are, through the same C helper that Numba's ``np.dot`` calls
(``numba_xxgemm``, which calls SciPy's ``cython_blas``), so that the model-parallel
epoch kernel (:mod:`.split`) can give each worker a block of each layer's units.

The helper is resolved by name when compiled code is loaded, as for ``np.dot``, so
kernels that call it are cached on disk like any other.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from fastnn._jit import jit

_char = ir.IntType(8)
_voidp = ir.IntType(8).as_pointer()
_intp = ir.IntType(64)


@intrinsic
def _xxgemm(typingctx, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
    """Column-major ``C = alpha op(A) op(B) + beta C`` on the data of three arrays
    (Fortran BLAS's argument order; ``transa``/``transb`` true for ``'t'``). Returns
    BLAS's status (0: done)."""
    if not (A.dtype == B.dtype == C.dtype and C.dtype in (types.float32, types.float64)):
        return None  # one floating dtype for all three, or no such function
    sig = types.int32(transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)

    def codegen(context, builder, signature, args):
        transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc = args
        aty, bty, cty = signature.args[6], signature.args[8], signature.args[11]
        dtype = cty.dtype
        fnty = ir.FunctionType(
            ir.IntType(32),
            [_char, _char, _char, _intp, _intp, _intp, _voidp, _voidp, _intp, _voidp, _intp,
             _voidp, _voidp, _intp],
        )  # fmt: skip
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        kind = ir.Constant(_char, ord("d" if dtype == types.float64 else "s"))

        def flag(value):
            return builder.select(value, ir.Constant(_char, ord("t")), ir.Constant(_char, ord("n")))

        def slot(value, ty):
            ptr = cgutils.alloca_once(builder, context.get_data_type(dtype))
            builder.store(context.cast(builder, value, ty, dtype), ptr)
            return builder.bitcast(ptr, _voidp)

        def data(value, ty):
            return builder.bitcast(context.make_array(ty)(context, builder, value).data, _voidp)

        def intp(value, ty):
            return context.cast(builder, value, ty, types.int64)

        sa = signature.args
        return builder.call(
            fn,
            (kind, flag(transa), flag(transb), intp(m, sa[2]), intp(n, sa[3]), intp(k, sa[4]),
             slot(alpha, sa[5]), data(A, aty), intp(lda, sa[7]), data(B, bty), intp(ldb, sa[9]),
             slot(beta, sa[10]), data(C, cty), intp(ldc, sa[12])),
        )  # fmt: skip

    return sig, codegen


@jit(internal=True)
def _layout(M):
    """``(transposed, ld)`` of a 2-D view with unit stride along one axis: row-major
    with rows ``ld`` apart, or (``transposed``) column-major with columns ``ld`` apart.
    An axis of one entry counts as unit stride (its stride means nothing), and a leading
    dimension is at least the length it spans, as BLAS requires."""
    rows, cols = M.shape
    s0, s1 = M.strides[0] // M.itemsize, M.strides[1] // M.itemsize
    if s1 == 1 or cols == 1:
        return False, max(s0, cols, 1)
    if s0 == 1 or rows == 1:
        return True, max(s1, rows, 1)
    raise ValueError("gemm needs views with unit stride along one axis")


@jit(internal=True)
def gemm(A, B, C, beta):
    """``C = A @ B + beta C`` for 2-D views of one dtype, each with unit stride along
    one axis (any block of a row-major matrix, or its transpose); ``C`` row-major.

    BLAS is column-major: a row-major ``C`` is ``C.T`` to it, so this asks for
    ``C.T = B.T @ A.T``, and a row-major operand is, to BLAS, its own transpose.
    """
    m, k = A.shape
    n = C.shape[1]
    if m == 0 or n == 0:
        return
    if k == 0:  # no product: BLAS would not read C when beta is 0, so neither do we
        for i in range(m):
            for j in range(n):
                C[i, j] = beta * C[i, j] if beta != 0 else 0
        return
    ta, lda = _layout(A)
    tb, ldb = _layout(B)
    tc, ldc = _layout(C)
    if tc:
        raise ValueError("gemm writes to views with unit stride along their rows")
    status = _xxgemm(tb, ta, n, m, k, 1.0, B, ldb, A, lda, beta, C, ldc)
    if status != 0:
        raise ValueError("BLAS gemm rejected its arguments")


@jit
def product(A, B, C, beta=0.0):
    """:func:`gemm`, callable from Python (for tests)."""
    if A.shape[1] != B.shape[0] or A.shape[0] != C.shape[0] or B.shape[1] != C.shape[1]:
        raise ValueError("shapes do not match")
    gemm(A, B, C, np.float64(beta))
