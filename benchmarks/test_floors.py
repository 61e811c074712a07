"""The fused xor epoch of benchmarks/floors.py does fastnn's math: its loss curve and
final weights are fastnn's (numba engine, float64), so its time is a floor for the same
work, not for less."""

import warnings

import numpy as np
from floors import fused_epochs, xor_start
from numpy.testing import assert_allclose, assert_array_equal
from workloads import WORKLOADS, params

from fastnn import MLPClassifier
from fastnn.layout import pack


def test_fused_xor_epochs_follow_fastnn():
    epochs = 300
    X, y, theta, key = xor_start()
    losses = np.empty(epochs)
    assert fused_epochs(X, y, theta, key, losses, WORKLOADS["xor"][1][0]) == epochs
    est = MLPClassifier(**params("xor", epochs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached
        est.fit(X, y)
    # Equal to the bit on the machine this was written on; fastnn sums the L2 penalty
    # with BLAS dot, whose order of summation may differ elsewhere, hence rtol.
    assert_allclose(losses, est.loss_curve_, rtol=1e-12)
    assert_allclose(theta, pack(est.coefs_, est.intercepts_, np.float64), rtol=1e-12)
    assert losses[-1] < losses[0]  # it learns
    # The same shuffles: the generator ends where fastnn's fit left it (a full batch's
    # loss hardly depends on its rows' order, so the curve alone would not show it).
    _, words, pos = est._random_state.get_state()[:3]
    assert pos == key[624]
    assert_array_equal(words, key[:624])


def test_swap_reads_what_the_other_worker_wrote():
    # Each of the two threads reads every block the other wrote, once a round, after
    # it was published; the one-thread twin does both sides' reads.
    from floors import swap

    n, rounds = 300, 500
    _, _, (first, second, alone) = swap(n, np.float64, rounds)
    each = n * rounds * (rounds - 1) / 2 + rounds * n * (n - 1) / 2
    assert first == second == each
    assert alone == 2 * each
