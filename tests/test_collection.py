"""The README's commands collect what they promise, from the repository root: ``pytest``
gathers the tests and the benchmarks (run once each, untimed), ``pytest --benchmark-only``
the benchmarks alone, timed. Collection only: nothing is fitted."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BENCHMARK_ITEMS = [
    "<Module test_benchmarks.py>",
    "<Function test_fit[xor-fastnn-numba-float64]>",
    "<Function test_compile_latency[cold]>",
    "<Function test_compile_latency[warm]>",
]
TEST_ITEMS = ["<Module test_xor.py>", "<Module test_collection.py>"]


def _collect(*args):
    """pytest's collection tree (header included) from the repository root."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    # An error collecting any module (say, two rootless conftest.py files both imported
    # as ``conftest``) interrupts the session with status 2.
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def test_pytest_collects_tests_and_benchmarks_untimed():
    out = _collect()
    assert "benchmarks: untimed, each runs once (pytest --benchmark-only times them)" in out
    for item in TEST_ITEMS + BENCHMARK_ITEMS:
        assert item in out


def test_pytest_benchmark_only_collects_the_benchmarks_timed():
    out = _collect("--benchmark-only")
    assert "benchmarks: timed" in out
    for item in BENCHMARK_ITEMS:
        assert item in out
    for item in TEST_ITEMS:  # deselected by benchmarks/conftest.py
        assert item not in out
