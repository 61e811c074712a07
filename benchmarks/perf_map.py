"""Profile the epoch kernels with ``perf``, their compiled functions named.

``perf`` cannot name code that Numba compiles at run time: it shows ``[JIT]`` and bare
addresses. It reads the names of such code from ``/tmp/perf-<pid>.map``, one line per
function: start address and size in hex, then the name. This script compiles the epoch
kernels afresh (an empty Numba cache, shipped kernels ignored, so that their LLVM
modules are at hand), fits one benchmark workload to do so, writes that file for every
function of the epoch kernels' libraries, and then runs the fit to be profiled:

    perf record -o perf.data python benchmarks/perf_map.py moons --epochs 40
    perf report -i perf.data --sort dso,sym

``--workers 1`` keeps the fit on one thread (``NUMBA_NUM_THREADS=1``); ``--dtype
float32`` fits in float32. The profile includes the compile: read it for the kernel's
share (the ``[JIT]`` lines, BLAS and libm), or restrict it in time with ``perf report
--time``. A size in the map is the distance to the next function, an upper bound.
"""

import argparse
import atexit
import os
import re
import shutil
import sys
import tempfile
import time
import warnings


def _compile_afresh():
    """Give this process a Numba cache of its own and ignore the shipped kernels, so
    that every kernel is compiled here (a kernel loaded from a cache keeps no LLVM
    module to read names from). Before fastnn is imported; the script's ``main`` only,
    never at import (a test imports this module into a process it must not change)."""
    if "fastnn" in sys.modules:
        raise RuntimeError("perf_map must set up its cache before fastnn is imported")
    cache = tempfile.mkdtemp(prefix="fastnn-perf-map-")
    atexit.register(shutil.rmtree, cache, ignore_errors=True)
    os.environ["NUMBA_CACHE_DIR"] = cache
    os.environ["FASTNN_SHIPPED_KERNELS"] = "0"


# A function larger than this is taken to end here (the next one is in other memory).
MAX_SIZE = 1 << 20

DEFINE = re.compile(r'^define [^@]*@"?([^"(\s]+)"?\(', re.M)


def compiled_functions(dispatchers):
    """``(address, name)`` of every function defined in the libraries that the given
    Numba dispatchers compiled in this process, sorted by address."""
    found = set()
    for dispatcher in dispatchers:
        for compiled in dispatcher.overloads.values():
            library = compiled.library
            for name in set(DEFINE.findall(library.get_llvm_str())):
                try:
                    address = library.get_pointer_to_function(name)
                except Exception:  # declared for linking, not emitted here
                    continue
                if address:
                    found.add((address, name))
    return sorted(found)


def readable(name):
    """``fastnn.kernels.optim._adam_update`` for Numba's mangled
    ``_ZN6fastnn7kernels5optim12_adam_updateB3v90...`` (its nested name, without the
    tags that tell overloads apart); other names as they are."""
    if not name.startswith("_ZN"):
        return name
    parts, rest = [], name[3:]
    while (match := re.match(r"(\d+)", rest)) is not None:
        length = int(match.group(1))
        start = match.end()
        parts.append(rest[start : start + length])
        rest = rest[start + length :]
    return ".".join(parts) or name


def write_perf_map(functions, path):
    """Write ``functions`` (``(address, name)``, sorted) as a perf map to ``path``:
    ``start size name`` in hex, each size the distance to the next function."""
    ends = [address for address, _ in functions[1:]] + [functions[-1][0] + MAX_SIZE]
    with open(path, "w") as out:
        for (address, name), end in zip(functions, ends):
            out.write(f"{address:x} {min(end - address, MAX_SIZE):x} {readable(name)}\n")


def epoch_dispatchers():
    """The dispatchers of every epoch scheme's two workers."""
    from fastnn.kernels import epoch, sparse, split

    return [module.run_epochs for module in (epoch, split, sparse)] + [
        module.helper for module in (epoch, split, sparse)
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", help="a workload of benchmarks/workloads.py")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the profiled fit")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--workers", type=int, default=2, choices=[1, 2])
    parser.add_argument("--map-dir", default="/tmp", help="where perf-<pid>.map goes")
    args = parser.parse_args(argv)
    _compile_afresh()
    if args.workers == 1:
        os.environ["NUMBA_NUM_THREADS"] = "1"

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from workloads import load, params

    from fastnn import MLPClassifier

    X, y = load(args.workload)
    est = MLPClassifier(**{**params(args.workload, 1), "dtype": args.dtype})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)  # compiles the kernels this fit uses
        functions = compiled_functions(epoch_dispatchers())
        path = os.path.join(args.map_dir, f"perf-{os.getpid()}.map")
        write_perf_map(functions, path)
        print(f"{path}: {len(functions)} functions", file=sys.stderr)
        est.set_params(max_iter=args.epochs)
        started = time.perf_counter()
        est.fit(X, y)
    seconds = time.perf_counter() - started
    print(f"profiled fit: {args.epochs} epochs, {seconds / args.epochs * 1e3:.3f} ms an epoch")
    return path


if __name__ == "__main__":
    main()
