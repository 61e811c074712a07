"""The one place that decides how Numba compiles fastnn's kernels.

Every kernel is decorated with :func:`jit`. Options:

- ``cache=True``: compiled machine code is written next to the sources (or to
  ``NUMBA_CACHE_DIR``) so that a new process loads it instead of compiling again.
- ``nogil=True``: two threads can train two models at the same time.
- ``error_model="numpy"``: division by zero gives inf/nan like NumPy instead of raising,
  and removes the per-division checks.
- ``fastmath``: off by default, so that float64 results follow IEEE order and match the
  NumPy reference. ``FASTNN_FASTMATH=1`` turns on a set *without* ``nnan``/``ninf``,
  so that NaN and infinity still behave (divergence detection relies on it).

Nothing is compiled at import: signatures are left to Numba's lazy dispatch, so the
first call per dtype compiles (or loads from cache). See :func:`fastnn.warmup`.

Where the cache lives: a folder named after a digest of fastnn's sources, under
``NUMBA_CACHE_DIR`` if set, else under ``XDG_CACHE_HOME`` or ``~/.cache``
(:data:`CACHE_DIR`), never inside the installed package.

- Numba's default writes ``__pycache__/*.nbi`` next to the sources; after
  ``pip install .``, a later ``pip uninstall`` (or ``pip install -e .``) leaves those
  folders behind as a ``fastnn`` namespace package that can hide the real one.
- Numba checks a cached function against its own file only. A kernel whose file did
  not change but which reads a constant or calls a function from a file that did
  (``_codes.py``'s slot numbers, say) would load stale machine code. The digest of
  every source file makes each version of fastnn compile into a folder of its own.
"""

import hashlib
import os
import pathlib

import numba


def source_digest(root=None):
    """A short SHA-256 of every ``.py`` file under ``root`` (names and contents); by
    default, of fastnn's package."""
    root = pathlib.Path(root or pathlib.Path(__file__).parent)
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


CACHE_DIR = os.path.join(
    os.environ.get("NUMBA_CACHE_DIR")
    or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "fastnn",
        "numba",
    ),
    source_digest(),
)

FASTMATH_FLAGS = {"nsz", "arcp", "contract", "reassoc"}


def _fastmath():
    return FASTMATH_FLAGS if os.environ.get("FASTNN_FASTMATH", "0") == "1" else False


OPTIONS = {
    "cache": True,
    "nogil": True,
    "error_model": "numpy",
    "fastmath": _fastmath(),
}


# For helpers only compiled code calls: no Python-callable (nor C-callable) wrapper.
# Numba compiles one per function, unboxing every argument, which costs compile time
# (the epoch kernel's helpers take a dozen arrays each) and is never used.
INTERNAL = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}

# For the big helpers that one place calls (the epoch kernel's block, step and epoch
# end; the forward and backward passes): inlined into the caller in Numba's own IR,
# typed there, and never compiled on their own. Numba compiles every other function it
# calls as a library of its own, optimises it at -O3 and generates its machine code, and
# then does both again inside each caller for everything the library links in: the
# products at the bottom of the epoch kernel went through that five times. Inlining seven
# such helpers took the first fit of a new process with an empty cache from
# 14.2-16.6 s to 11.4-12.4 s (four pairs, run side by side on this 2-core machine), with
# the same speed per epoch. Only for functions that one or two sites call: every call
# site types a copy of what it inlines, and inlining every helper took that fit to 50 s.
INLINE = {**INTERNAL, "inline": "always"}


def jit(func=None, *, internal=False, inline=False, **overrides):
    """Compile ``func`` with fastnn's Numba options (``overrides`` win).

    Usable bare (``@jit``) or with arguments (``@jit(internal=True)``);
    ``internal=True`` is for helpers that only compiled code calls (:data:`INTERNAL`),
    ``inline=True`` for big ones that one site calls (:data:`INLINE`).
    """
    options = {**OPTIONS, **(INLINE if inline else INTERNAL if internal else {}), **overrides}
    if func is None:
        return lambda f: jit(f, internal=internal, inline=inline, **overrides)
    # Numba picks a function's cache folder when it is decorated, from its global
    # config: point it at fastnn's folder for this decoration only.
    previous = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = CACHE_DIR
    try:
        return numba.njit(**options)(func)
    finally:
        numba.config.CACHE_DIR = previous
