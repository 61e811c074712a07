"""The numba engine: the math of :mod:`fastnn.reference` as ``@njit`` kernels.

Each public function here has a twin of the same name and meaning in the reference.
The kernels write into buffers allocated once per fit and allocate nothing per
mini-batch. They trust their inputs: validation happens at the Python boundary.
"""

from fastnn.kernels.activations import (
    activate,
    activation_derivative,
    dropout,
    dropout_derivative,
    dropout_rate,
    output_activate,
)
from fastnn.kernels.dense import backward, batch_loss_grad, forward, predict
from fastnn.kernels.epoch import epoch_end, run_epoch, run_epochs
from fastnn.kernels.losses import output_delta, output_loss, penalty
from fastnn.kernels.optim import adam_step, adamw_step, optimizer_step, rmsprop_step, sgd_step
from fastnn.kernels.rng import shuffle

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
