"""Small integer codes that name activations, losses and solvers inside kernels.

Strings stay at the Python boundary (scikit-learn's names); kernels only ever see these
integers, so that each dtype compiles once whatever the network looks like.
"""

import numpy as np

# Hidden activations (and the identity output of a regressor).
IDENTITY = 0
LOGISTIC = 1
TANH = 2
RELU = 3
LEAKY_RELU = 4

ACTIVATIONS = {
    "identity": IDENTITY,
    "logistic": LOGISTIC,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
}

# Slope of leaky_relu for negative inputs (PyTorch's default).
LEAKY_SLOPE = 0.01

# Output activation and loss travel together: each output pairs with one loss. The first
# four pairs make the output delta the plain residual ``A_out - Y``; the robust losses
# clip it (huber) or keep its sign (absolute error).
SQUARED_ERROR = 0  # identity output, squared error (regression)
BINARY_LOG_LOSS = 1  # logistic output, binary log-loss (binary and multilabel)
LOG_LOSS = 2  # softmax output, log-loss (multiclass)
POISSON = 3  # exp output, half Poisson deviance (regression on counts)
HUBER = 4  # identity output, Huber loss with threshold HUBER_DELTA (robust regression)
ABSOLUTE_ERROR = 5  # identity output, absolute error (median regression)

HUBER_DELTA = 1.0

REGRESSION_LOSSES = {
    "squared_error": SQUARED_ERROR,
    "poisson": POISSON,
    "huber": HUBER,
    "absolute_error": ABSOLUTE_ERROR,
}

OUTPUT_ACTIVATION = {
    SQUARED_ERROR: "identity",
    BINARY_LOG_LOSS: "logistic",
    LOG_LOSS: "softmax",
    POISSON: "exp",
    HUBER: "identity",
    ABSOLUTE_ERROR: "identity",
}

# Solvers that run mini-batches through an epoch kernel.
SGD = 0
ADAM = 1
RMSPROP = 2
ADAMW = 3

SOLVERS = {"sgd": SGD, "adam": ADAM, "rmsprop": RMSPROP, "adamw": ADAMW}

# Length of each solver's moment vectors in ``state`` (in units of the parameter count).
MOMENTS = {SGD: 1, ADAM: 2, RMSPROP: 1, ADAMW: 2}

# ``codes`` array handed to kernels: [hidden activation, output/loss pair, solver].
HIDDEN, OUTPUT, SOLVER = 0, 1, 2

# ``scalars`` handed to kernels: the pair ``(hyper, counts)``. The kernels read the
# hyper-parameters and write back what changes while training: the learning rates and
# the best value in ``hyper`` (float64), the step and batch counts and the stopping
# state in ``counts`` (int64), so that no counter is stored as a float and cast back.
# ``hyper`` slots (float64); those from DROPOUT on hold one dropout rate per hidden layer.
(
    LR,  # sgd's current rate; for the Adam family, the last bias-corrected rate
    LR_INIT,
    RATE,  # the scheduled base rate of adam, adamw and rmsprop
    MOMENTUM,
    BETA_1,
    BETA_2,  # also rmsprop's decay rate
    EPSILON,
    ALPHA,  # L2 penalty in the loss and gradient
    WEIGHT_DECAY,  # adamw's decoupled weight decay (alpha, moved out of the gradient)
    POWER_T,
    TOL,
    N_ITER_NO_CHANGE,  # a float: scikit-learn accepts np.inf
    BEST,
    DROPOUT,
) = range(14)
N_HYPER = 13  # without the dropout rates

# ``counts`` slots (int64).
(
    NESTEROV,
    N_WEIGHTS,  # how many leading entries of theta are weights (the rest are biases)
    STEP,  # Adam's step count t
    BATCH_COUNT,  # mini-batches trained so far: the dropout generator's counter
    DROPOUT_SEED,
    BATCH_SIZE,
    SHUFFLE,
    SCHEDULE,
    HORIZON,  # cosine: epochs to decay over; step: epochs between steps
    EPOCH,  # epochs this solver has finished (cosine and step schedules)
    MONITOR,
    NO_IMPROVEMENT,
    SEEN,
    STOP,
) = range(14)
N_COUNTS = 14


def new_scalars(n_hidden=0):
    """Zeroed ``(hyper, counts)`` with room for ``n_hidden`` dropout rates."""
    return np.zeros(N_HYPER + n_hidden, dtype=np.float64), np.zeros(N_COUNTS, dtype=np.int64)


# ``counts[SCHEDULE]``: how the learning rate changes between epochs.
CONSTANT = 0
INVSCALING = 1  # sgd only, as in scikit-learn
ADAPTIVE = 2  # sgd only, as in scikit-learn
COSINE = 3
STEP_DECAY = 4

SCHEDULES = {
    "constant": CONSTANT,
    "invscaling": INVSCALING,
    "adaptive": ADAPTIVE,
    "cosine": COSINE,
    "step": STEP_DECAY,
}

# The step schedule multiplies the rate by STEP_GAMMA every HORIZON epochs.
STEP_GAMMA = 0.1

# ``counts[STOP]``: why ``run_epochs`` returned before its last epoch.
RUNNING = 0
CONVERGED = 1  # no improvement for more than n_iter_no_change epochs
DIVERGED = 2  # the loss became NaN or infinite


def copy_scalars(scalars):
    """A copy of ``scalars = (hyper, counts)``."""
    hyper, counts = scalars
    return hyper.copy(), counts.copy()
