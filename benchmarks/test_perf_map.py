"""benchmarks/perf_map.py names the epoch kernels' compiled functions for perf."""

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import perf_map
from perf_map import readable

SCRIPT = Path(__file__).with_name("perf_map.py")


def test_readable_names():
    mangled = "_ZN6fastnn7kernels5optim12_adam_updateB3v90B70c8tJTIeFIjxE5ArrayIdLi1E1C7mutable"
    assert readable(mangled) == "fastnn.kernels.optim._adam_update"
    assert readable("NRT_incref") == "NRT_incref"


def test_the_map_names_the_epoch_kernel(tmp_path):
    # A new process: the script must set up its own cache before fastnn is imported.
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "xor", "--epochs", "2", "--workers", "1",
         "--map-dir", str(tmp_path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "profiled fit: 2 epochs" in run.stdout
    (path,) = tmp_path.glob("perf-*.map")
    entries = [line.split(" ", 2) for line in path.read_text().splitlines()]
    names = {name for _, _, name in entries}
    assert {"fastnn.kernels.epoch.run_epochs", "fastnn.kernels.epoch._block"} <= names
    starts = [int(start, 16) for start, _, _ in entries]
    assert starts == sorted(starts)
    assert all(re.fullmatch("[0-9a-f]+", size) and int(size, 16) > 0 for _, size, _ in entries)


def test_importing_it_changes_nothing():
    # The tests that build the package with its kernels inherit this process's
    # environment: importing perf_map (as this module does) must leave it alone.
    before = dict(os.environ)
    importlib.reload(perf_map)
    assert dict(os.environ) == before
