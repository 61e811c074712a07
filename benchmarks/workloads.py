"""The benchmark workloads and the implementations compared on each (one table, used by
every benchmark: what is timed is what the tests check)."""

import numpy as np
from sklearn.datasets import load_digits, make_circles, make_moons

# name: (data, hidden layers, batch size, epochs per timed fit)
WORKLOADS = {
    "xor": ("xor", (4,), 4, 2000),
    "moons": ("moons", (64, 64), 64, 5),
    "circles": ("circles", (32, 32), 32, 5),
    "digits": ("digits", (128, 64), 32, 5),
    "wide": ("moons", (512, 512), 128, 2),
    "sklearn-default": ("digits", (100,), "auto", 5),
}

# Fewer epochs for the slow peers on the tiny workload, so a round stays short.
PEER_EPOCHS = {"xor": 200}


def load(name):
    """``(X, y)`` of a workload's data set."""
    if name == "xor":
        return np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), np.array([0, 1, 1, 0])
    if name == "moons":
        return make_moons(10_000, noise=0.2, random_state=0)
    if name == "circles":
        return make_circles(10_000, noise=0.1, factor=0.5, random_state=0)
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def params(workload, epochs):
    """The hyper-parameters every implementation gets: Adam, a fixed number of epochs."""
    _, hidden, batch_size, _ = WORKLOADS[workload]
    return dict(
        hidden_layer_sizes=hidden,
        solver="adam",
        batch_size=batch_size,
        learning_rate_init=1e-3,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=10**9,
        random_state=0,
    )


def flops_per_epoch(X, hidden, n_outputs):
    """Multiply-add FLOPs of one epoch: 2 per weight and sample forward, 4 backward."""
    sizes = [X.shape[1], *hidden, n_outputs]
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 6 * X.shape[0] * weights


def widest_product(X, hidden, n_outputs, batch_size):
    """Shapes ``(batch, fan_in), (fan_in, fan_out)`` of the largest layer product."""
    sizes = [X.shape[1], *hidden, n_outputs]
    rows = min(200, X.shape[0]) if batch_size == "auto" else batch_size
    fan_in, fan_out = max(zip(sizes[:-1], sizes[1:]), key=lambda p: p[0] * p[1])
    return (rows, fan_in), (fan_in, fan_out)
