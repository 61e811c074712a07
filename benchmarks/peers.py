"""The implementations each workload times: fastnn's two engines in both dtypes, a
minimal NumPy MLP (``plain_numpy.py``, the honest NumPy baseline) in both dtypes,
scikit-learn, and PyTorch on the CPU where it is installed (the ``bench`` extra)."""

import importlib.util

import numpy as np
from plain_numpy import PlainNumpyMLP
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier

from fastnn import MLPClassifier

HAVE_TORCH = importlib.util.find_spec("torch") is not None


class TorchMLP:
    """The same network, loss, Adam and mini-batches, in eager PyTorch on the CPU."""

    def __init__(self, dtype, hidden_layer_sizes, batch_size, learning_rate_init, max_iter,
                 random_state, **_):  # fmt: skip
        self.dtype, self.hidden = dtype, hidden_layer_sizes
        self.batch_size, self.lr, self.epochs = batch_size, learning_rate_init, max_iter
        self.seed = random_state

    def fit(self, X, y):
        import torch

        torch.manual_seed(self.seed)
        dtype = torch.float64 if self.dtype == "float64" else torch.float32
        classes = np.unique(y)
        Xt = torch.as_tensor(X, dtype=dtype)
        yt = torch.as_tensor(np.searchsorted(classes, y))
        sizes = [X.shape[1], *self.hidden]
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [torch.nn.Linear(a, b, dtype=dtype), torch.nn.ReLU()]
        layers.append(torch.nn.Linear(sizes[-1], len(classes), dtype=dtype))
        model = torch.nn.Sequential(*layers)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        n = X.shape[0]
        batch = min(200, n) if self.batch_size == "auto" else self.batch_size
        for _ in range(self.epochs):
            order = torch.randperm(n)
            for start in range(0, n, batch):
                rows = order[start : start + batch]
                optimizer.zero_grad()
                loss = loss_fn(model(Xt[rows]), yt[rows])
                loss.backward()
                optimizer.step()
        self.n_iter_ = self.epochs
        return self


IMPLEMENTATIONS = {
    "fastnn-numba-float64": lambda p: MLPClassifier(**p, backend="numba", dtype="float64"),
    "fastnn-numba-float32": lambda p: MLPClassifier(**p, backend="numba", dtype="float32"),
    "fastnn-numpy-float64": lambda p: MLPClassifier(**p, backend="numpy", dtype="float64"),
    "fastnn-numpy-float32": lambda p: MLPClassifier(**p, backend="numpy", dtype="float32"),
    "plain-numpy-float64": lambda p: PlainNumpyMLP(**p, dtype="float64"),
    "plain-numpy-float32": lambda p: PlainNumpyMLP(**p, dtype="float32"),
    "sklearn": lambda p: SklearnMLPClassifier(**p),
}
if HAVE_TORCH:
    IMPLEMENTATIONS["torch-float64"] = lambda p: TorchMLP("float64", **p)
    IMPLEMENTATIONS["torch-float32"] = lambda p: TorchMLP("float32", **p)
