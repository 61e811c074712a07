"""Prediction speed, fastnn against scikit-learn with the same weights: one row at a
time (serving) and 100,000 rows at once, a fitted 20-64-64-2 classifier in float64.

scikit-learn's model is ``fastnn.to_sklearn`` of fastnn's, so both predict with the same
weights; ``predict_proba`` of each is timed on the same C-contiguous float64 array.
"""

import numpy as np
import pytest
from sklearn.datasets import make_classification

import fastnn

CASES = {"one-row": 1, "100k-rows": 100_000}
# Calls per round: a one-row call takes microseconds, so a round times many.
ITERATIONS = {"one-row": 2000, "100k-rows": 1}


@pytest.fixture(scope="module")
def models():
    X, y = make_classification(100_000, 20, random_state=0)
    model = fastnn.MLPClassifier(
        hidden_layer_sizes=(64, 64), max_iter=3, random_state=0, dtype="float64"
    ).fit(X[:5000], y[:5000])
    return X, {"fastnn": model, "sklearn": fastnn.to_sklearn(model)}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("impl", ["fastnn", "sklearn"])
@pytest.mark.parametrize("case", list(CASES))
def test_predict(benchmark, results, models, case, impl):
    X, by_impl = models
    A = np.ascontiguousarray(X[: CASES[case]])
    model = by_impl[impl]
    model.predict_proba(A)  # warm-up: load the compiled kernel
    benchmark.group = f"predict|{case}|20-64-64-2"
    iterations = 1 if benchmark.disabled else ITERATIONS[case]
    rounds = 1 if benchmark.disabled else (20 if case == "one-row" else 15)
    proba = benchmark.pedantic(model.predict_proba, args=(A,), rounds=rounds, iterations=iterations)
    assert proba.shape == (A.shape[0], 2)
    if benchmark.stats is not None:
        results[3][(case, impl)] = benchmark.stats.stats.min
