"""Atomic operations on the counters the two workers share (:mod:`.handover`).

Numba has no atomics of its own, so these few intrinsics emit LLVM's on one ``int64``
slot of an array: an acquire load, a release store and a sequentially consistent
compare-and-swap. They are all the hand-over needs: a worker publishes its progress
with a release store and the other reads it with an acquire load, so data written
before the store is visible after the load sees the new value; a share of work is
claimed by a compare-and-swap, which exactly one of two competing workers wins. Code
that uses them has no NumPy twin: the reference engine is single-threaded.

``relax`` is called while waiting. It calls the C library's ``sched_yield`` so that a
waiting worker hands its core to the other one when the machine is busy; the symbol is
resolved by name when the compiled code is loaded, so the disk cache keeps working.

With ``NUMBA_DISABLE_JIT=1`` (kernels run as Python, for debugging) intrinsics cannot
run, so plain Python versions (under a lock) stand in.
"""

import sys
import threading
import time

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _slot(context, builder, aryty, ary, index):
    array = context.make_array(aryty)(context, builder, ary)
    return cgutils.get_item_pointer(context, builder, aryty, array, [index])


@intrinsic
def atomic_load(typingctx, counters, index):
    """``counters[index]``, read with acquire ordering."""
    sig = types.int64(counters, index)

    def codegen(context, builder, signature, args):
        ptr = _slot(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "acquire", 8)

    return sig, codegen


@intrinsic
def atomic_store(typingctx, counters, index, value):
    """``counters[index] = value``, written with release ordering."""
    sig = types.void(counters, index, value)

    def codegen(context, builder, signature, args):
        ptr = _slot(context, builder, signature.args[0], args[0], args[1])
        builder.store_atomic(args[2], ptr, "release", 8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def relax(typingctx):
    """Give the core away for a moment (``sched_yield``; nothing on Windows)."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        if sys.platform != "win32":
            fnty = ir.FunctionType(ir.IntType(32), [])
            builder.call(cgutils.get_or_insert_function(builder.module, fnty, "sched_yield"), [])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def atomic_cas(typingctx, counters, index, expected, value):
    """If ``counters[index] == expected``, set it to ``value`` and return True;
    otherwise return False. Atomic, sequentially consistent."""
    sig = types.boolean(counters, index, expected, value)

    def codegen(context, builder, signature, args):
        ptr = _slot(context, builder, signature.args[0], args[0], args[1])
        pair = builder.cmpxchg(ptr, args[2], args[3], "seq_cst", "seq_cst")
        return builder.extract_value(pair, 1)

    return sig, codegen


if numba.config.DISABLE_JIT:  # NUMBA_DISABLE_JIT=1 runs kernels as Python: plain twins
    _lock = threading.Lock()

    def atomic_load(counters, index):  # noqa: F811
        return counters[index]

    def atomic_store(counters, index, value):  # noqa: F811
        counters[index] = value

    def atomic_cas(counters, index, expected, value):  # noqa: F811
        with _lock:
            if counters[index] == expected:
                counters[index] = value
                return True
            return False

    def relax():  # noqa: F811
        time.sleep(0)
