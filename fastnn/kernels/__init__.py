"""The numba engine: the math of :mod:`fastnn.reference` as ``@njit`` kernels.

Each public function here has a twin of the same name and meaning in the reference.
The kernels write into buffers allocated once per fit and allocate nothing per
mini-batch. They trust their inputs: validation happens at the Python boundary.

A fit's epochs run in one of three schemes, peers built on the same two-worker
protocol (:mod:`.handover`): :mod:`.epoch` splits each mini-batch's rows between the
two workers, :mod:`.split` each hidden layer's units, and :mod:`.sparse` (sparse input)
the step of the first layer's weights. :func:`epoch_workers` chooses, from the shapes
and the input's kind alone, so that the bits never depend on the machine.
"""

from fastnn.kernels import epoch, handover, sparse, split
from fastnn.kernels.activations import (
    activate,
    activation_derivative,
    dropout,
    dropout_derivative,
    dropout_rate,
    output_activate,
)
from fastnn.kernels.dense import backward, batch_loss_grad, forward, predict
from fastnn.kernels.epoch import run_epoch
from fastnn.kernels.handover import epoch_end
from fastnn.kernels.losses import output_delta, output_loss, penalty
from fastnn.kernels.optim import adam_step, adamw_step, optimizer_step, rmsprop_step, sgd_step
from fastnn.kernels.rng import shuffle

# The kernels, each with its twin in fastnn.reference (tests/test_fuzz.py holds them
# equal). epoch_workers and splits_units choose a scheme; they are not kernels.
__all__ = [
    "activate",
    "activation_derivative",
    "adam_step",
    "adamw_step",
    "backward",
    "dropout",
    "dropout_derivative",
    "dropout_rate",
    "epoch_end",
    "batch_loss_grad",
    "forward",
    "optimizer_step",
    "output_activate",
    "output_delta",
    "output_loss",
    "penalty",
    "predict",
    "rmsprop_step",
    "run_epoch",
    "run_epochs",
    "sgd_step",
    "shuffle",
]


def run_epochs(data, network, params, scalars, work, rng_state, losses):
    """Run up to ``losses.shape[0]`` epochs; return how many ran: the twin of
    :func:`fastnn.reference.run_epochs`, as a fit on one thread runs it (the row
    scheme's worker 0 alone, :func:`.epoch.run_epochs`, with counters of its own).

    The counters are made here, in Python, rather than in the kernel when none are
    given: a kernel that may allocate them compiles that allocation into every fit.
    """
    shared = handover.counters()
    return epoch.run_epochs(data, network, params, scalars, work, rng_state, losses, shared)


# The model-parallel scheme is used when the widest layer has at least SPLIT_MIN_WEIGHTS
# weights and at least SPLIT_MIN_WEIGHTS_PER_ROW per row of the batch. Measured on 2
# cores, moons data, float64, ms per epoch, min over 6 fits alternating split / rows:
#   2-512-512-1, batch 128: 205 / 220 (float32 109 / 109)
#   2-384-384-1, batch 32, 64, 128: 152 / 182, 141 / 137, 116 / 114 (the last two even)
#   2-256-256-1, batch 32, 64, 128: 76 / 88, 63 / 65, 57 / 53
#   2-128-128-1, batch 32, 64, 128: 25 / 22, 27 / 28, 31 / 25
#   moons 2-64-64-1 b64: 9.6 / 5.8; digits 64-128-64-10 b32: 5.1 / 4.0
# Per batch, the row split exchanges parameters (its cost grows with the weights) and
# the unit split meets 2 L - 1 times and exchanges activations (it grows with the batch).
SPLIT_MIN_WEIGHTS = 65_536
SPLIT_MIN_WEIGHTS_PER_ROW = 1_024


def splits_units(sizes, batch_size, dropout=False):
    """Whether a fit's mini-batches run model-parallel (:mod:`.split`) rather than
    data-parallel (:mod:`.epoch`): when the widest layer has at least
    :data:`SPLIT_MIN_WEIGHTS` weights, and :data:`SPLIT_MIN_WEIGHTS_PER_ROW` per row of
    the batch, with a hidden layer and no dropout (its masks are drawn by rows)."""
    sizes = [int(n) for n in sizes]
    widest = max(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return (
        len(sizes) >= 3
        and not dropout
        and widest >= SPLIT_MIN_WEIGHTS
        and widest >= SPLIT_MIN_WEIGHTS_PER_ROW * batch_size
    )


def epoch_workers(sizes, batch_size, dropout=False, sparse_input=False):
    """The scheme of a fit's epochs: ``(worker_0, worker_1, pays)``, its two workers'
    kernels, and whether a second thread pays (the row scheme only splits batches
    that are large enough, :func:`.epoch.batch_parts`). One thread or two, the bits
    are the same (:mod:`fastnn._workers` runs them). Sparse input has a scheme of its
    own (:mod:`.sparse`): worker 1 takes half of the first layer's step."""
    if sparse_input:
        return sparse.run_epochs, sparse.helper, True
    if splits_units(sizes, batch_size, dropout):
        return split.run_epochs, split.helper, True
    return epoch.run_epochs, epoch.helper, epoch.batch_parts(sizes, batch_size) == 2
