"""Small integer codes that name activations, losses and solvers inside kernels.

Strings stay at the Python boundary (scikit-learn's names); kernels only ever see these
integers, so that each dtype compiles once whatever the network looks like.
"""

# Hidden activations (and the identity output of a regressor).
IDENTITY = 0
LOGISTIC = 1
TANH = 2
RELU = 3

ACTIVATIONS = {"identity": IDENTITY, "logistic": LOGISTIC, "tanh": TANH, "relu": RELU}

# Output activation and loss travel together: each output pairs with one loss, and the
# pair makes the output delta the plain residual ``A_out - Y``.
SQUARED_ERROR = 0  # identity output, squared error (regression)
BINARY_LOG_LOSS = 1  # logistic output, binary log-loss (binary and multilabel)
LOG_LOSS = 2  # softmax output, log-loss (multiclass)
POISSON = 3  # exp output, half Poisson deviance (regression on counts)

OUTPUT_ACTIVATION = {
    SQUARED_ERROR: "identity",
    BINARY_LOG_LOSS: "logistic",
    LOG_LOSS: "softmax",
    POISSON: "exp",
}

# Solvers that run mini-batches through an epoch kernel.
SGD = 0
ADAM = 1

SOLVERS = {"sgd": SGD, "adam": ADAM}

# ``codes`` array handed to kernels: [hidden activation, output/loss pair, solver].
HIDDEN, OUTPUT, SOLVER = 0, 1, 2

# ``scalars`` array handed to kernels (float64). The kernels read the hyper-parameters
# and write back what changes while training: the Adam step count, the current learning
# rate, and the stopping state (best value, epochs without improvement, samples seen).
(
    LR,
    LR_INIT,
    MOMENTUM,
    NESTEROV,
    BETA_1,
    BETA_2,
    EPSILON,
    ALPHA,
    STEP,
    BATCH_SIZE,
    SHUFFLE,
    SCHEDULE,
    POWER_T,
    TOL,
    N_ITER_NO_CHANGE,
    MONITOR,
    BEST,
    NO_IMPROVEMENT,
    SEEN,
    STOP,
) = range(20)
N_SCALARS = 20

# ``scalars[SCHEDULE]``: how the learning rate changes between epochs (sgd only).
CONSTANT = 0
INVSCALING = 1
ADAPTIVE = 2

SCHEDULES = {"constant": CONSTANT, "invscaling": INVSCALING, "adaptive": ADAPTIVE}

# ``scalars[STOP]``: why ``run_epochs`` returned before its last epoch.
RUNNING = 0
CONVERGED = 1  # no improvement for more than n_iter_no_change epochs
DIVERGED = 2  # the loss became NaN or infinite
