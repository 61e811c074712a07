"""Sparse input: fastnn against scikit-learn on the same CSR matrix, per epoch.

20,000 rows x 50,000 columns with 100 non-zeros a row (a bag of words), one hidden
layer of 100 units, batches of 200, adam: scikit-learn's MLP takes sparse input, and so
does fastnn (fastnn/kernels/sparse.py), without making it dense. Exact Adam moves all 5
million first-layer weights every batch, so the optimizer's step is most of the work.
Each fit runs EPOCHS epochs; the time per epoch is the fit's over EPOCHS, setup included.
"""

import numpy as np
import pytest
import scipy.sparse
from sklearn.neural_network import MLPClassifier as SKClassifier

import fastnn

N_ROWS, N_COLUMNS, PER_ROW = 20_000, 50_000, 100
PARAMS = {"hidden_layer_sizes": (100,), "batch_size": 200, "random_state": 0, "tol": 0.0,
          "n_iter_no_change": 1000}  # fmt: skip
EPOCHS = 2
WORKLOAD = "sparse-20000x50000"


@pytest.fixture(scope="module")
def bag_of_words():
    rng = np.random.RandomState(0)
    indptr = np.arange(0, N_ROWS * PER_ROW + 1, PER_ROW)
    indices = rng.randint(0, N_COLUMNS, N_ROWS * PER_ROW)
    X = scipy.sparse.csr_matrix(
        (rng.rand(N_ROWS * PER_ROW), indices, indptr), shape=(N_ROWS, N_COLUMNS)
    )
    X.sum_duplicates()  # a few columns drawn twice in a row
    y = (X @ rng.randn(N_COLUMNS) > 0).astype(np.int64)
    return X, y


IMPLEMENTATIONS = ["fastnn-numba-float64", "fastnn-numba-float32", "sklearn"]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_sparse_fit(benchmark, results, bag_of_words, impl):
    X, y = bag_of_words
    if impl == "sklearn":
        make = lambda epochs: SKClassifier(max_iter=epochs, **PARAMS)  # noqa: E731
    else:
        dtype = impl.rsplit("-", 1)[1]
        X = X.astype(dtype)
        make = lambda epochs: fastnn.MLPClassifier(max_iter=epochs, dtype=dtype, **PARAMS)  # noqa: E731
        make(1).fit(X[:400], y[:400])  # load the compiled kernels outside the timing
    benchmark.group = f"sparse|{N_ROWS}x{N_COLUMNS}|{PER_ROW} a row"
    epochs = 1 if benchmark.disabled else EPOCHS
    rounds = 1 if benchmark.disabled else (3 if impl == "sklearn" else 5)
    model = benchmark.pedantic(lambda: make(epochs).fit(X, y), rounds=rounds, iterations=1)
    assert model.n_iter_ == epochs
    if benchmark.stats is not None:
        results[0][(WORKLOAD, impl)] = benchmark.stats.stats.min / epochs
