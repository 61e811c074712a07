"""Elementwise passes over a block of a layer's columns, for the unit split (:mod:`.split`).

Each worker of the unit split owns a block of columns of every hidden layer: these
passes add the bias and activate, sum two partial products and activate, or multiply a
delta by the activation's derivative and sum its columns, on those columns only.

They go row by row, each row a contiguous slice indexed from 0: over a strided view (a
stride LLVM cannot know), or from a run-time column offset (an index that might be
negative, so Numba wraps it), the loops do not vectorise (measured: 70 instead of 8 us
per 128 x 256 block of float32).
"""

from fastnn._jit import jit
from fastnn.kernels.activations import derivative_value, hidden_value


@jit(internal=True)
def activate_row(z, b, code):
    """``z = f(z + b)`` on one row's columns."""
    for j in range(z.shape[0]):
        z[j] = hidden_value(z[j] + b[j], code)


@jit(internal=True)
def activate_columns(Z, b, c0, c1, code):
    """``Z[:, c0:c1] = f(Z + b)`` there, in one pass."""
    for r in range(Z.shape[0]):
        activate_row(Z[r, c0:c1], b[c0:c1], code)


@jit(internal=True)
def sum_activate_row(p_0, p_1, b, a, code):
    """``a = f(p_0 + p_1 + b)`` on one row's columns."""
    for j in range(a.shape[0]):
        a[j] = hidden_value(p_0[j] + p_1[j] + b[j], code)


@jit(internal=True)
def sum_activate_columns(P_0, P_1, b, A, c0, c1, code):
    """``A[:, c0:c1] = f(P_0 + P_1 + b)`` there, in one pass."""
    for r in range(A.shape[0]):
        sum_activate_row(P_0[r, c0:c1], P_1[r, c0:c1], b[c0:c1], A[r, c0:c1], code)


@jit(internal=True)
def derive_row(a, d, sums, code):
    """``d *= f'`` (from ``a``) on one row's columns, added to ``sums``."""
    for j in range(a.shape[0]):
        v = derivative_value(a[j], d[j], code)
        d[j] = v
        sums[j] += v


@jit(internal=True)
def derive_columns(A, delta, db, c0, c1, code, sums):
    """``delta[:, c0:c1] *= f'`` (from ``A``) and ``db[c0:c1]`` = its column sums, row
    by row (the order :mod:`.dense` adds in), in one pass. The sums build up in this
    share's ``sums`` and are copied to ``db`` at the end: the two shares' parts of
    ``db`` may share a cache line, which would bounce between the cores on every row."""
    m = c1 - c0
    own = sums[:m]
    for c in range(m):
        own[c] = 0
    for r in range(A.shape[0]):
        derive_row(A[r, c0:c1], delta[r, c0:c1], own, code)
    d = db[c0:c1]
    for c in range(m):
        d[c] = own[c]


@jit(internal=True)
def column_sums(delta, db):
    """``db = delta.sum(axis=0)``, row by row (the order :mod:`.dense` adds in)."""
    for c in range(db.shape[0]):
        db[c] = 0
    for r in range(delta.shape[0]):
        for c in range(db.shape[0]):
            db[c] += delta[r, c]
