"""``fastnn info``: what a bug report needs, from versions and Numba's settings to the CPU.

The module is not named ``info``: ``fastnn.cli.info`` is the function :func:`info`
below, and a submodule of that name would clash with it.
"""

import os
import pathlib
import platform
import time

import numpy as np


def run(args):
    """Carry out ``fastnn info``: print :func:`info`, one item a line.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options of the subcommand (none).
    """
    for key, value in info().items():
        print(f"{key + ':':<24}{value}")


def info():
    """What a bug report needs: versions, Numba's settings, and the machine.

    Returns
    -------
    dict of str to str
        One line of text per item.
    """
    import numba
    import sklearn

    import fastnn
    from fastnn import _jit

    return {
        "fastnn": f"{fastnn.__version__} ({os.path.dirname(fastnn.__file__)})",
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "numpy": np.__version__,
        "numba": numba.__version__,
        "scikit-learn": sklearn.__version__,
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cores": _cores(),
        "numba threads": str(numba.config.NUMBA_NUM_THREADS),
        "numba threading layer": _threading_layer(numba),
        **kernel_sources(_jit.STORE),
        "fastmath": "on" if _jit.OPTIONS["fastmath"] else "off (FASTNN_FASTMATH=1 turns it on)",
        "blas": _blas(),
    }


def _blas():
    """The BLAS that Numba's ``np.dot`` calls (SciPy's), with its thread count."""
    import scipy.linalg.cython_blas  # noqa: F401  (loads the library Numba binds to)
    from threadpoolctl import threadpool_info

    pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
    scipy_pools = [p for p in pools if "scipy" in os.path.basename(os.path.dirname(p["filepath"]))]
    pool = (scipy_pools or pools or [None])[-1]
    if pool is None:
        return "unknown"
    version, threads = pool["version"], pool["num_threads"]
    return f"{pool['internal_api']} {version}, threads: {threads} (behind the kernels' np.dot)"


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _cores():
    logical = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # sched_getaffinity exists on Linux only
        return f"{logical} logical"
    return f"{logical} logical, {usable} usable by this process"


def _threading_layer(numba):
    """The layer in use, or (before any parallel kernel has run) the one requested."""
    try:
        return numba.threading_layer()
    except ValueError:  # raised until a parallel kernel has run in this process
        pass
    available = []
    for layer, module in (("tbb", "tbbpool"), ("omp", "omppool"), ("workqueue", "workqueue")):
        try:
            __import__(f"numba.np.ufunc.{module}")
        except Exception:  # ImportError, or OSError when the library fails to load
            continue
        available.append(layer)
    return (
        f"not started yet (requested: {numba.config.THREADING_LAYER}; "
        f"available: {', '.join(available) or 'none'})"
    )


def kernel_sources(store):
    """Where this process's compiled kernels come from, for ``fastnn info``.

    Returns
    -------
    dict of str to str
    """
    from numba.core.registry import cpu_target

    usable, reason, manifest = store.shipped(cpu_target.target_context.codegen())
    shipped = reason
    if manifest is not None:
        built = manifest.get("built", 0)
        shipped = (
            f"{reason}; {len(manifest['files'])} files in {store.shipped_dir}, built {_when(built)}"
        )
    user = store.user_dir
    files = [p for p in pathlib.Path(user).rglob("*.nbc")] if os.path.isdir(user) else []
    if files:
        newest = max(p.stat().st_mtime for p in files)
        user += f" ({len(files)} kernels, newest written {_when(newest)})"
    else:
        user += " (empty)"
    if store.unsaved:
        user += f"; cannot save: {store.unsaved}"
    this = ", ".join(f"{n} loaded from {k}" for k, n in sorted(store.loaded.items()))
    return {
        "shipped kernels": shipped,
        "kernel cache": user,
        "kernels this process": (f"{this or 'none loaded'}; {len(store.compiled)} compiled now"),
    }


def _when(seconds):
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))
    age = max(0.0, time.time() - seconds)
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if age >= size:
            return f"{stamp}, {age / size:.0f} {unit} ago"
    return f"{stamp}, {age:.0f} seconds ago"
