"""The first run on a fresh machine, measured as a new user meets it.

    python benchmarks/fresh_install.py [--repeat N] [--baseline REV]

Each step runs in a new virtual environment with an empty home folder (so no Numba
cache and no pip cache), on a copy of this checkout as it is (without its build
folders and caches):

1. ``pip install '.[plot]'``, timed: the build compiles the kernels into the package.
2. ``fastnn train --dataset moons``, ``N`` times, each a new process: the first epoch it
   reports and the command's wall time, plot included.
3. The first fit of each kind in a new process (``N`` each): float64 and float32, one
   worker and two, the wide unit split, dropout, every solver, activation and loss;
   seconds beyond importing numpy, numba and scikit-learn.
4. With ``--baseline REV``: ``REV`` installed the same way in a second environment, then
   ``pytest benchmarks --benchmark-only -k "test_fit and numba"`` in the two in turn,
   ``N`` times each (A B A B ...), with this clone's benchmarks: fastnn's per-epoch times
   side by side, as medians, and their ratio.

It prints medians with the minimum and maximum; the machine's speed drifts, so a wide
range says it was noisy. ``.ci/run`` does not run this script (it takes minutes);
``tests/test_cache.py`` holds what it relies on. Figures from it are in
``docs/first-run.md``.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The first fits of step 3: name -> (environment, code run after the imports). The
# data are built in the timed part too; they cost microseconds.
DATA = """
import numpy as np
rng = np.random.RandomState(0)
X = rng.rand(1000, 2)
y = (X[:, 0] > 0.5).astype(int)
y3 = np.digitize(X[:, 0], [0.33, 0.66])
yr = X[:, 0] + 0.5
"""
ONE_WORKER = {"NUMBA_NUM_THREADS": "1"}
FITS = {
    "float64, one worker": (ONE_WORKER, "MLPClassifier((64, 64), batch_size=64)"),
    "float32, one worker": (ONE_WORKER, "MLPClassifier((64, 64), batch_size=64, dtype='float32')"),
    "float64, two workers": ({}, "MLPClassifier((64, 64), batch_size=64)"),
    "float32, two workers": ({}, "MLPClassifier((64, 64), batch_size=64, dtype='float32')"),
    "wide 2-512-512-1, batch 128, float64": ({}, "MLPClassifier((512, 512), batch_size=128)"),
    "wide 2-512-512-1, batch 128, float32": (
        {},
        "MLPClassifier((512, 512), batch_size=128, dtype='float32')",
    ),
    "dropout": ({}, "MLPClassifier((64, 64), dropout=0.2)"),
    **{
        f"solver {s}": ({}, f"MLPClassifier((16,), solver='{s}')")
        for s in ("sgd", "adam", "adamw", "rmsprop", "lbfgs")
    },
    **{
        f"activation {a}": ({}, f"MLPClassifier((16,), activation='{a}')")
        for a in ("identity", "logistic", "tanh", "relu", "leaky_relu")
    },
    "loss log-loss, 3 classes": ({}, "MLPClassifier((16,))", "y3"),
    **{
        f"loss {loss}": ({}, f"MLPRegressor(hidden_layer_sizes=(16,), loss='{loss}')", "yr")
        for loss in ("squared_error", "poisson", "huber", "absolute_error")
    },
}
FIT_SCRIPT = """
import time
start = time.perf_counter()
import numpy, numba, sklearn.neural_network
imported = time.perf_counter()
import warnings
warnings.simplefilter("ignore")
from fastnn import MLPClassifier, MLPRegressor
{data}
model = {model}.set_params(max_iter=5, random_state=0).fit(X, {target})
model.predict(X)
print(time.perf_counter() - imported)
"""


def _env(home, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "FASTNN_"))}
    env.pop("XDG_CACHE_HOME", None)
    env.pop("PYTHONPATH", None)
    return {**env, "HOME": home, "PYTHONWARNINGS": "ignore", **extra}


def copy_checkout(dest):
    """This checkout as it is, without what a build or a test run leaves in it."""
    ignore = shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", "_compiled", ".*cache",
        ".benchmarks", ".hypothesis",
    )  # fmt: skip
    shutil.copytree(REPO, dest, ignore=ignore)
    return dest


def clone(rev, dest):
    """A fresh clone of this repository at ``rev``."""
    subprocess.run(["git", "clone", "--quiet", REPO, dest], check=True)
    subprocess.run(["git", "-C", dest, "checkout", "--quiet", rev], check=True)
    return dest


def fresh_install(checkout, root):
    """A new venv under ``root`` with an empty home folder, and ``checkout`` installed in
    it with the README's command; returns ``(bin folder, home, install seconds)``."""
    venv, home = os.path.join(root, "venv"), os.path.join(root, "home")
    os.makedirs(home)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    bin_ = os.path.join(venv, "bin")
    started = time.perf_counter()
    subprocess.run(
        [os.path.join(bin_, "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", ".[plot]"],
        cwd=checkout, env=_env(home), check=True,
    )  # fmt: skip
    return bin_, home, time.perf_counter() - started


def first_fit_seconds(bin_, home, model, target="y", env=None):
    """Seconds a first fit (and predict) of ``model`` takes in a new process, beyond
    importing numpy, numba and scikit-learn."""
    script = FIT_SCRIPT.format(data=DATA, model=model, target=target)
    out = subprocess.run(
        [os.path.join(bin_, "python"), "-c", script],
        env=_env(home, **(env or {})), capture_output=True, text=True, check=True,
        cwd=home,
    )  # fmt: skip
    return float(out.stdout.split()[-1])


def train_moons(bin_, home):
    """``(first epoch, wall seconds)`` of ``fastnn train --dataset moons``."""
    started = time.perf_counter()
    out = subprocess.run(
        [os.path.join(bin_, "fastnn"), "train", "--dataset", "moons"],
        env=_env(home), capture_output=True, text=True, check=True, cwd=home,
    )  # fmt: skip
    wall = time.perf_counter() - started
    first = float(re.search(r"first epoch ([0-9.]+) s", out.stdout).group(1))
    return first, wall


def _summary(values):
    return (
        f"median {statistics.median(values):.3f}  (min {min(values):.3f}, "
        f"max {max(values):.3f}, n={len(values)})"
    )


def per_epoch_ms(bin_, home, benchmarks):
    """``{(workload, dtype): ms per epoch}`` from one timed run of the benchmarks' numba
    fits, parsed from the summary table."""
    out = subprocess.run(
        [os.path.join(bin_, "python"), "-m", "pytest", benchmarks, "--benchmark-only",
         "-k", "test_fit and numba", "-q", "-p", "no:cacheprovider"],
        env=_env(home), capture_output=True, text=True, check=True, cwd=home,
    )  # fmt: skip
    times = {}
    summary = out.stdout.split("fastnn benchmark summary", 1)[1]
    table = summary.split("\nworkload", 1)[1].splitlines()[1:]
    for line in table:
        parts = line.split()
        if len(parts) < 3 or not re.fullmatch(r"[0-9.]+", parts[1]):
            break  # the end of the table
        times[(parts[0], "float64")] = float(parts[1])
        times[(parts[0], "float32")] = float(parts[2])
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--baseline", help="a git revision to compare speed per epoch with")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        checkout = copy_checkout(os.path.join(tmp, "fastnn"))
        bin_, home, seconds = fresh_install(checkout, os.path.join(tmp, "a"))
        print(f"1. pip install '.[plot]': {seconds:.1f} s")

        runs = [train_moons(bin_, home) for _ in range(args.repeat)]
        print(f"2. fastnn train --dataset moons (first of the runs: first epoch "
              f"{runs[0][0]:.2f} s, wall {runs[0][1]:.2f} s)")  # fmt: skip
        print(f"   first epoch, s: {_summary([r[0] for r in runs])}")
        print(f"   wall time, s:   {_summary([r[1] for r in runs])}")

        print("3. first fit in a new process, s beyond importing numpy, numba, scikit-learn")
        for name, (env, model, *target) in FITS.items():
            times = [
                first_fit_seconds(bin_, home, model, *target, env=env) for _ in range(args.repeat)
            ]
            print(f"   {name:<40}{_summary(times)}")

        if args.baseline:
            base = clone(args.baseline, os.path.join(tmp, "baseline"))
            base_bin, base_home, base_seconds = fresh_install(base, os.path.join(tmp, "b"))
            print(f"4. per-epoch ms, HEAD (A) against {args.baseline} (B), installed in "
                  f"{base_seconds:.1f} s; runs in turn A B A B ...")  # fmt: skip
            for venv_bin, venv_home in ((bin_, home), (base_bin, base_home)):
                subprocess.run(
                    [os.path.join(venv_bin, "python"), "-m", "pip", "install", "--quiet",
                     "--disable-pip-version-check", "pytest", "pytest-benchmark"],
                    env=_env(venv_home), check=True,
                )  # fmt: skip
            benchmarks = os.path.join(checkout, "benchmarks")
            a_runs, b_runs = [], []
            for _ in range(args.repeat):
                a_runs.append(per_epoch_ms(bin_, home, benchmarks))
                b_runs.append(per_epoch_ms(base_bin, base_home, benchmarks))
            for key in a_runs[0]:
                a_ms = [r[key] for r in a_runs]
                b_ms = [r[key] for r in b_runs]
                a, b = statistics.median(a_ms), statistics.median(b_ms)
                print(
                    f"   {key[0]:<16}{key[1]:<9} A {a:9.3f}  B {b:9.3f}  A/B {a / b:.3f}  "
                    f"(A runs {a_ms}, B runs {b_ms})"
                )


if __name__ == "__main__":
    main()
