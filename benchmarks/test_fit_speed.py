"""Fit speed: fastnn's two engines and scikit-learn, side by side, one group per workload.

Run with ``pytest benchmarks --benchmark-only``. Compilation is kept out of the timings by
a warm-up fit. The speed issue extends this into the full suite and summary table.
"""

import pytest
from sklearn.datasets import make_moons
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier

from fastnn import MLPClassifier

EPOCHS = 5
PARAMS = dict(
    hidden_layer_sizes=(64, 64),
    solver="adam",
    batch_size=64,
    max_iter=EPOCHS,
    tol=0.0,
    n_iter_no_change=10**9,
    random_state=0,
)

IMPLEMENTATIONS = {
    "fastnn-numba-float64": lambda: MLPClassifier(**PARAMS, backend="numba", dtype="float64"),
    "fastnn-numba-float32": lambda: MLPClassifier(**PARAMS, backend="numba", dtype="float32"),
    "fastnn-numpy-float64": lambda: MLPClassifier(**PARAMS, backend="numpy", dtype="float64"),
    "sklearn": lambda: SklearnMLPClassifier(**PARAMS),
}


@pytest.fixture(scope="module")
def moons():
    return make_moons(10_000, noise=0.2, random_state=0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", list(IMPLEMENTATIONS))
def test_moons(benchmark, moons, name):
    X, y = moons
    make = IMPLEMENTATIONS[name]
    make().fit(X, y)  # warm-up: compile (or load the cache) outside the timing
    benchmark.group = "moons|2-64-64-1|bs64"
    benchmark.extra_info["epochs"] = EPOCHS
    model = benchmark.pedantic(lambda: make().fit(X, y), rounds=3, iterations=1)
    assert model.n_iter_ == EPOCHS
