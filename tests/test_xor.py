"""XOR, the classic first problem: not linearly separable, so it needs the hidden layer.

One fixed configuration must solve it from (nearly) any starting point. Four tanh
units trained by L-BFGS to a tight tolerance separate all four points for every one
of the random states 0..199 tried when this configuration was chosen.
"""

import numpy as np
import pytest

from fastnn import MLPClassifier

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y = np.array([0, 1, 1, 0])

SEEDS = range(20)


def xor_model(random_state, backend):
    return MLPClassifier(
        hidden_layer_sizes=(4,),
        activation="tanh",
        solver="lbfgs",
        alpha=1e-4,
        tol=1e-6,
        max_iter=200,
        random_state=random_state,
        backend=backend,
    )


def test_xor_is_learned_from_almost_every_seed(backend):
    solved = [xor_model(seed, backend).fit(X, y).score(X, y) == 1.0 for seed in SEEDS]
    got = sum(solved)
    assert got >= 19, f"XOR solved for {got} of {len(SEEDS)} seeds"


@pytest.mark.parametrize("seed", [0, 1])
def test_xor_probabilities_are_confident(seed, backend):
    """A solved XOR is not a coin toss: every point is classified with p > 0.9."""
    model = xor_model(seed, backend).fit(X, y)
    got = model.predict_proba(X)[np.arange(4), y]
    assert np.all(got > 0.9)
