"""The one place that decides how Numba compiles fastnn's kernels.

Every kernel is decorated with :func:`jit`. Options:

- caching: compiled machine code is kept on disk (:mod:`fastnn._cache`): shipped with
  the package when it was built by ``pip install .``, else in a per-user folder, so
  that a new process loads it instead of compiling again.
- ``nogil=True``: two threads can train two models at the same time.
- ``error_model="numpy"``: division by zero gives inf/nan like NumPy instead of raising,
  and removes the per-division checks.
- ``fastmath``: off by default, so that float64 results follow IEEE order and match the
  NumPy reference. ``FASTNN_FASTMATH=1`` turns on a set *without* ``nnan``/``ninf``,
  so that NaN and infinity still behave (divergence detection relies on it).

Nothing is compiled at import: signatures are left to Numba's lazy dispatch, so the
first call per dtype compiles, or loads the compiled code. See :func:`fastnn.warmup`.
"""

import os

import numba

from fastnn import _cache

FASTMATH_FLAGS = {"nsz", "arcp", "contract", "reassoc"}


def _fastmath():
    return FASTMATH_FLAGS if os.environ.get("FASTNN_FASTMATH", "0") == "1" else False


OPTIONS = {
    "nogil": True,
    "error_model": "numpy",
    "fastmath": _fastmath(),
}

# Where compiled kernels are loaded from and saved to. Numba keys its cache on the
# sources, the CPU and the signature, not on the options: the fastmath setting, which
# an environment variable changes, names a cache of its own.
STORE = _cache.Store(options={"fastmath": sorted(OPTIONS["fastmath"] or [])})


# For helpers only compiled code calls: no Python-callable (nor C-callable) wrapper.
# Numba compiles one per function, unboxing every argument, which costs compile time
# (the epoch kernel's helpers take a dozen arrays each) and is never used.
INTERNAL = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}

# For the big helpers that one place calls (the epoch kernel's step and epoch end; the
# forward and backward passes): inlined into the caller in Numba's own IR,
# typed there, and never compiled on their own. Numba compiles every other function it
# calls as a library of its own, optimises it at -O3 and generates its machine code, and
# then does both again inside each caller for everything the library links in: the
# products at the bottom of the epoch kernel went through that five times. Inlining seven
# such helpers took the first fit of a new process with an empty cache from
# 14.2-16.6 s to 11.4-12.4 s (four pairs, run side by side on this 2-core machine), with
# the same speed per epoch. Only for functions that one or two sites call: every call
# site types a copy of what it inlines, and inlining every helper took that fit to 50 s.
INLINE = {**INTERNAL, "inline": "always"}


def jit(func=None, *, internal=False, inline=False, cache=True, **overrides):
    """Compile ``func`` with fastnn's Numba options (``overrides`` win).

    Usable bare (``@jit``) or with arguments (``@jit(internal=True)``);
    ``internal=True`` is for helpers that only compiled code calls (:data:`INTERNAL`),
    ``inline=True`` for big ones that one site calls (:data:`INLINE`). With ``cache``
    (the default), the machine code is loaded from and saved to :data:`STORE`.
    """
    options = {**OPTIONS, **(INLINE if inline else INTERNAL if internal else {}), **overrides}
    if func is None:
        return lambda f: jit(f, internal=internal, inline=inline, cache=cache, **overrides)
    dispatcher = numba.njit(**options)(func)
    if cache:
        STORE.attach(dispatcher)
    return dispatcher
