"""The generated datasets still draw the same points: golden copies in ``datasets/``.

A change in fastnn's generators, or in the scikit-learn and NumPy functions behind them,
would silently change every result computed on them; these files pin them down.
``python tests/test_datasets_golden.py`` rewrites the files (see ``datasets/README.md``).
"""

import csv
import pathlib

import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastnn import datasets

GOLDEN = pathlib.Path(__file__).resolve().parent.parent / "datasets"

# name: the keyword arguments of fastnn.datasets.load that made datasets/<name>.csv
MADE_WITH = {
    "xor": {"n_samples": 200, "random_state": 0},
    "moons": {"n_samples": 200, "random_state": 0},
    "circles": {"n_samples": 200, "random_state": 0},
}

# Printed with repr (shortest round trip), the numbers are exact; the tolerance leaves
# room only for last-bit differences of sin and cos between platforms' maths libraries.
RTOL = 1e-12


def write(name, directory=GOLDEN):
    """Write ``<directory>/<name>.csv``: columns ``x1, x2, label``, one row per sample."""
    X, y = datasets.load(name, **MADE_WITH[name])
    with open(directory / f"{name}.csv", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["x1", "x2", "label"])
        writer.writerows([repr(a), repr(b), int(label)] for (a, b), label in zip(X.tolist(), y))


@pytest.mark.parametrize("name", sorted(MADE_WITH))
def test_loader_reproduces_golden_file(name):
    expected_X, expected_y = datasets.load_csv(GOLDEN / f"{name}.csv", target="label")
    got_X, got_y = datasets.load(name, **MADE_WITH[name])
    assert got_X.shape == expected_X.shape == (200, 2)
    assert_allclose(got_X, expected_X, rtol=RTOL, atol=0)
    assert_array_equal(got_y, expected_y)


if __name__ == "__main__":
    for dataset in MADE_WITH:
        write(dataset)
        print(f"wrote {GOLDEN / dataset}.csv")
