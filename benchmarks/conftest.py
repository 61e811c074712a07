"""Collects each benchmark's per-epoch time and prints the comparison table at the end:
fastnn's speed-up over every peer (over NumPy: over the faster of fastnn's numpy engine
and the plain NumPy MLP of ``plain_numpy.py``, named), the GFLOP/s it reaches beside
``np.dot``'s on the widest layer (measured in the same process), and the compile
latency.

Plain ``pytest`` collects these benchmarks beside the tests (``testpaths``) and runs each
once, untimed, as ``--benchmark-disable`` does; ``--benchmark-only``, ``--benchmark-enable``
or any other ``--benchmark-*`` option that shapes a timed run times them instead."""

import os
import platform
import shlex

import pytest

# Options that ask for no timing; every other --benchmark-* option asks for timed runs.
UNTIMED_OPTIONS = {"--benchmark-disable", "--benchmark-skip"}


def _timing_requested(config):
    """Whether the command line, ``PYTEST_ADDOPTS`` or ``addopts`` names a benchmark
    option other than :data:`UNTIMED_OPTIONS` (pytest takes no abbreviated options)."""
    args = [
        *config.getini("addopts"),
        *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")),
        *map(str, config.invocation_params.args),
    ]
    return any(
        arg.startswith("--benchmark-") and arg.split("=", 1)[0] not in UNTIMED_OPTIONS
        for arg in args
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Untimed benchmarks unless timing was asked for. pytest-benchmark reads
    ``--benchmark-disable`` in its own ``pytest_configure`` (``trylast``), which runs after
    this one when this conftest is loaded before the run starts: for ``testpaths`` or a
    path under benchmarks/. Loaded later (``pytest .``), this hook runs after it, and
    sets its session's flag, which each ``benchmark`` fixture reads when created."""
    if not hasattr(config.option, "benchmark_disable") or _timing_requested(config):
        return  # pytest-benchmark not loaded (-p no:benchmark), or timing asked for
    config.option.benchmark_disable = True
    session = getattr(config, "_benchmarksession", None)
    if session is not None:
        session.disabled = True


def pytest_collection_modifyitems(config, items):
    """With ``--benchmark-only``, deselect the tests rather than let pytest-benchmark mark
    each skipped: ``-ra`` would list some 160 skip lines below the benchmark tables."""
    if not config.getoption("benchmark_only", False):
        return
    tests = [item for item in items if "benchmark" not in getattr(item, "fixturenames", ())]
    if tests:
        config.hook.pytest_deselected(items=tests)
        items[:] = [item for item in items if "benchmark" in getattr(item, "fixturenames", ())]


def pytest_report_header(config):
    session = getattr(config, "_benchmarksession", None)
    if session is None:
        return None
    if session.disabled:
        return "benchmarks: untimed, each runs once (pytest --benchmark-only times them)"
    return "benchmarks: timed"


# (workload, implementation) -> seconds per epoch (best round)
RESULTS = {}
# workload -> (fastnn numba GFLOP/s by dtype, np.dot GFLOP/s by dtype)
FLOPS = {}
# "cold" / "warm" / "fresh-install" -> seconds beyond importing numpy, numba and
# scikit-learn
COMPILE = {}
# (case, implementation) -> seconds per predict_proba call (best round)
PREDICT = {}


@pytest.fixture
def results():
    return RESULTS, FLOPS, COMPILE, PREDICT


def _ratio(a, b):
    return f"{b / a:.1f}x" if a and b else "-"


def _vs_numpy(numba, engine, plain):
    """fastnn numba's speed-up over the faster NumPy of the same dtype: fastnn's numpy
    engine or the plain NumPy MLP, named ``engine`` or ``plain``."""
    timed = [(t, name) for t, name in ((engine, "engine"), (plain, "plain")) if t]
    if not (numba and timed):
        return "-"
    seconds, name = min(timed)
    return f"{seconds / numba:.1f}x {name}"


def pytest_terminal_summary(terminalreporter):
    if not (RESULTS or COMPILE or PREDICT):
        return
    write = terminalreporter.write_line
    write("")
    write(f"fastnn benchmark summary ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores)")  # fmt: skip
    from peers import HAVE_TORCH

    if not HAVE_TORCH:
        write("PyTorch is not installed: no torch rows (pip install '.[bench]' adds them).")
    from workloads import WORKLOADS

    workloads = [w for w in WORKLOADS if any(key[0] == w for key in RESULTS)]
    header = (
        f"{'workload':<16}{'numba f64 ms':>13}{'numba f32 ms':>13}{'vs numpy f64':>15}"
        f"{'vs numpy f32':>15}{'vs sklearn':>11}{'vs torch':>10}{'GF/s f64':>10}"
        f"{'dot f64':>9}{'GF/s f32':>10}{'dot f32':>9}"
    )
    write(header)
    for w in workloads:
        t = {impl: RESULTS.get((w, impl)) for impl in (
            "fastnn-numba-float64", "fastnn-numba-float32", "fastnn-numpy-float64",
            "fastnn-numpy-float32", "plain-numpy-float64", "plain-numpy-float32", "sklearn",
            "torch-float32")}  # fmt: skip
        f64, f32 = t["fastnn-numba-float64"], t["fastnn-numba-float32"]
        best = min(x for x in (f64, f32) if x) if (f64 or f32) else None
        gf, dot = FLOPS.get(w, ({}, {}))
        write(
            f"{w:<16}{(f64 or 0) * 1e3:>13.3f}{(f32 or 0) * 1e3:>13.3f}"
            f"{_vs_numpy(f64, t['fastnn-numpy-float64'], t['plain-numpy-float64']):>15}"
            f"{_vs_numpy(f32, t['fastnn-numpy-float32'], t['plain-numpy-float32']):>15}"
            f"{_ratio(best, t['sklearn']):>11}"
            f"{_ratio(best, t['torch-float32']):>10}"
            f"{gf.get('float64', 0):>10.1f}{dot.get('float64', 0):>9.1f}"
            f"{gf.get('float32', 0):>10.1f}{dot.get('float32', 0):>9.1f}"
        )
    write("vs X: X's time per epoch over fastnn numba's (same dtype for numpy; fastnn's "
          "faster dtype for sklearn (float64) and torch (float32)).")  # fmt: skip
    write("vs numpy: over the faster NumPy, named: fastnn's numpy engine ('engine') or "
          "the plain NumPy MLP of benchmarks/plain_numpy.py ('plain'), the same math.")  # fmt: skip
    for kind, seconds in sorted(COMPILE.items()):
        what = "after a fresh install" if kind == "fresh-install" else f"{kind} Numba cache"
        write(f"first fit in a new process, {what}: {seconds:.2f} s beyond "
              "importing numpy, numba and scikit-learn (the faster of two)")  # fmt: skip
    sparse = {impl: RESULTS.get(("sparse-20000x50000", impl)) for impl in (
        "fastnn-numba-float64", "fastnn-numba-float32", "sklearn")}  # fmt: skip
    if all(sparse.values()):
        f64, f32, sk = sparse.values()
        write(f"sparse 20000x50000, 100 a row, (100,), batch 200, adam, s per epoch: fastnn "
              f"float64 {f64:.3f} ({sk / f64:.1f}x), float32 {f32:.3f} ({sk / f32:.1f}x), "
              f"scikit-learn {sk:.3f}")  # fmt: skip
    for case in ("one-row", "100k-rows"):
        ours, theirs = PREDICT.get((case, "fastnn")), PREDICT.get((case, "sklearn"))
        if ours and theirs:
            unit, scale = ("us", 1e6) if theirs < 1e-3 else ("ms", 1e3)
            write(f"predict_proba, {case}, 20-64-64-2 float64: fastnn {ours * scale:.1f} "
                  f"{unit}, scikit-learn {theirs * scale:.1f} {unit} "
                  f"({theirs / ours:.1f}x)")  # fmt: skip
