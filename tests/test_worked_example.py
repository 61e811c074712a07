"""A worked example by hand: one tiny network, its forward and backward pass in numbers.

The network has 2 inputs, 2 relu hidden units and 1 logistic output (binary log-loss),
``alpha = 0.1``, two samples of weight 1, and takes one SGD step with ``lr = 0.1`` and
no momentum. Every number below was computed once by hand (and checked with mpmath at
30 digits, independently of fastnn), then written here as a literal decimal; the tests
assert that both engines produce exactly these numbers.

Data and parameters::

    X = [[ 1.0, 2.0],        Y = [[1],        W1 = [[0.2, -0.3],    b1 = [0.1, -0.1]
         [-1.0, 0.5]]             [0]]              [0.4,  0.1]]

                                                W2 = [[ 0.5],         b2 = [0.2]
                                                      [-0.6]]

In the flat vector (scikit-learn's ``_pack`` order: all weights, then all biases)::

    theta = [0.2, -0.3, 0.4, 0.1,  0.5, -0.6,  0.1, -0.1,  0.2]
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastnn import _codes as C
from fastnn import kernels, reference
from fastnn.layout import layer_sizes, pack, unpack, work_size

ENGINES = {"numpy": reference, "numba": kernels}

# The hand numbers carry 15 significant digits, so they are matched to 1e-12.
RTOL = 1e-12

X = np.array([[1.0, 2.0], [-1.0, 0.5]])
Y = np.array([[1.0], [0.0]])
SW = np.ones(2)
W1 = np.array([[0.2, -0.3], [0.4, 0.1]])
B1 = np.array([0.1, -0.1])
W2 = np.array([[0.5], [-0.6]])
B2 = np.array([0.2])
ALPHA = 0.1
LR = 0.1
SIZES = layer_sizes(2, (2,), 1)
CODES = np.array([C.RELU, C.BINARY_LOG_LOSS, C.SGD], dtype=np.int64)

# --- Forward pass -------------------------------------------------------------------
#
# Z1 = X W1 + b1
#   row 1: [ 1*0.2 + 2*0.4 + 0.1,   1*(-0.3) + 2*0.1 - 0.1] = [1.1, -0.2]
#   row 2: [-1*0.2 + 0.5*0.4 + 0.1, -1*(-0.3) + 0.5*0.1 - 0.1] = [0.1, 0.25]
Z1 = np.array([[1.1, -0.2], [0.1, 0.25]])
# A1 = relu(Z1): the second unit is off for the first sample only.
A1 = np.array([[1.1, 0.0], [0.1, 0.25]])
# Z2 = A1 W2 + b2
#   row 1: 1.1*0.5 + 0*(-0.6) + 0.2 = 0.75
#   row 2: 0.1*0.5 + 0.25*(-0.6) + 0.2 = 0.05 - 0.15 + 0.2 = 0.1
Z2 = np.array([[0.75], [0.1]])
# A2 = 1 / (1 + exp(-Z2))
#   row 1: 1 / (1 + exp(-0.75)) = 1 / (1 + 0.472366552741015) = 0.679178699175393
#   row 2: 1 / (1 + exp(-0.1))  = 1 / (1 + 0.904837418035960) = 0.524979187478940
A2 = np.array([[0.679178699175393], [0.524979187478940]])

# --- Loss ---------------------------------------------------------------------------
#
# data term = -mean(Y log A2 + (1 - Y) log(1 - A2))
#           = -(log 0.679178699175393 + log 0.475020812521060) / 2
#           = -(-0.386871006114900 - 0.744396660073571) / 2 = 0.565633833094235
# penalty   = alpha / 2 * sum(W**2) / n
#           = 0.05 * (0.04 + 0.09 + 0.16 + 0.01 + 0.25 + 0.36) / 2 = 0.05 * 0.91 / 2 = 0.02275
# loss      = 0.565633833094235 + 0.02275 = 0.588383833094235
LOSS = 0.588383833094235

# --- Backward pass ------------------------------------------------------------------
#
# Output delta: the residual A2 - Y (logistic output and log-loss pair up).
#   [0.679178699175393 - 1, 0.524979187478940 - 0] = [-0.320821300824607, 0.524979187478940]
DELTA2 = np.array([[-0.320821300824607], [0.524979187478940]])
# dW2 = (A1.T DELTA2 + alpha W2) / n
#   A1.T DELTA2 = [1.1*(-0.320821300824607) + 0.1*0.524979187478940,
#                  0*(-0.320821300824607) + 0.25*0.524979187478940]
#               = [-0.352903430907068 + 0.052497918747894, 0.131244796869735]
#               = [-0.300405512159174, 0.131244796869735]
#   + alpha W2  = [-0.300405512159174 + 0.05, 0.131244796869735 - 0.06]
#               = [-0.250405512159174, 0.071244796869735]
#   / 2         = [-0.125202756079587, 0.0356223984348675]
DW2 = np.array([[-0.125202756079587], [0.0356223984348675]])
# db2 = sum(DELTA2) / n = (-0.320821300824607 + 0.524979187478940) / 2 = 0.102078943327166
DB2 = np.array([0.102078943327166])
# Hidden delta: DELTA2 W2.T, then times relu'(Z1), which is 1 where A1 > 0 and 0 elsewhere.
#   DELTA2 W2.T = [[-0.320821300824607*0.5, -0.320821300824607*(-0.6)],
#                  [ 0.524979187478940*0.5,  0.524979187478940*(-0.6)]]
#               = [[-0.160410650412304, 0.192492780494764],
#                  [ 0.262489593739470, -0.314987512487364]]
DELTA2_W2T = np.array(
    [[-0.160410650412304, 0.192492780494764], [0.26248959373947, -0.314987512487364]]
)
#   times [[1, 0], [1, 1]]  (the unit that was off passes no gradient back)
DELTA1 = np.array([[-0.160410650412304, 0.0], [0.26248959373947, -0.314987512487364]])
# dW1 = (X.T DELTA1 + alpha W1) / n
#   X.T DELTA1 = [[1*(-0.160410650412304) - 1*0.262489593739470, 0 - 1*(-0.314987512487364)],
#                 [2*(-0.160410650412304) + 0.5*0.262489593739470, 0 + 0.5*(-0.314987512487364)]]
#              = [[-0.422900244151774, 0.314987512487364],
#                 [-0.189576503954873, -0.157493756243682]]
#   + alpha W1 = [[-0.422900244151774 + 0.02, 0.314987512487364 - 0.03],
#                 [-0.189576503954873 + 0.04, -0.157493756243682 + 0.01]]
#   / 2        = [[-0.201450122075887, 0.142493756243682],
#                 [-0.074788251977436, -0.073746878121841]]
DW1 = np.array([[-0.201450122075887, 0.142493756243682], [-0.074788251977436, -0.073746878121841]])
# db1 = sum(DELTA1, axis=0) / n
#     = [(-0.160410650412304 + 0.262489593739470) / 2, (0 - 0.314987512487364) / 2]
#     = [0.0510394716635832, -0.157493756243682]
DB1 = np.array([0.0510394716635832, -0.157493756243682])

# --- One SGD step (lr = 0.1, no momentum): new = old - lr * gradient -------------------
#
# W1: [[0.2 + 0.0201450122075887, -0.3 - 0.0142493756243682],
#      [0.4 + 0.0074788251977436,  0.1 + 0.0073746878121841]]
NEW_W1 = np.array([[0.220145012207589, -0.314249375624368], [0.407478825197744, 0.107374687812184]])
# b1: [0.1 - 0.00510394716635832, -0.1 + 0.0157493756243682]
NEW_B1 = np.array([0.0948960528336417, -0.0842506243756318])
# W2: [[0.5 + 0.0125202756079587], [-0.6 - 0.00356223984348675]]
NEW_W2 = np.array([[0.512520275607959], [-0.603562239843487]])
# b2: [0.2 - 0.0102078943327166]
NEW_B2 = np.array([0.189792105667283])


def _theta():
    """The example's parameters as a fresh flat vector."""
    return pack([W1, W2], [B1, B2], np.float64)


def _scalars():
    """Hyper-parameters: alpha and plain SGD (no momentum)."""
    scalars = C.new_scalars()
    hyper, counts = scalars
    hyper[C.ALPHA] = ALPHA
    hyper[C.LR] = hyper[C.LR_INIT] = LR
    hyper[C.MOMENTUM] = 0.0
    return scalars


def _activations(name, theta):
    """``[A1, A2]`` from the engine's forward pass.

    The numba engine writes each layer's activations into ``work`` (layer after layer,
    ``capacity`` rows each, as documented in :mod:`fastnn.kernels.dense`).
    """
    if name == "numpy":
        return reference.forward(X, (SIZES, CODES), theta)[1:]
    work = np.zeros(work_size(SIZES, X.shape[0], gather=False))
    kernels.forward(X, (SIZES, CODES), theta, C.new_scalars(), work)
    return [work[:4].reshape(2, 2), work[4:6].reshape(2, 1)]


@pytest.mark.parametrize("name", ENGINES)
def test_hidden_preactivations(name):
    # A network of the first layer alone with an identity output gives Z1 = X W1 + b1.
    sizes = layer_sizes(2, (), 2)
    codes = np.array([C.IDENTITY, C.SQUARED_ERROR, C.SGD], dtype=np.int64)
    theta = pack([W1], [B1], np.float64)
    got = ENGINES[name].predict(X, (sizes, codes), theta)
    assert_allclose(got, Z1, rtol=RTOL)


@pytest.mark.parametrize("name", ENGINES)
def test_hidden_activations(name):
    got, _ = _activations(name, _theta())
    assert_allclose(got, A1, rtol=RTOL)


@pytest.mark.parametrize("name", ENGINES)
def test_output_preactivations(name):
    # The same network with an identity output gives Z2 = A1 W2 + b2.
    codes = np.array([C.RELU, C.SQUARED_ERROR, C.SGD], dtype=np.int64)
    got = ENGINES[name].predict(X, (SIZES, codes), _theta())
    assert_allclose(got, Z2, rtol=RTOL)


@pytest.mark.parametrize("name", ENGINES)
def test_forward_output(name):
    _, got = _activations(name, _theta())
    assert_allclose(got, A2, rtol=RTOL)


@pytest.mark.parametrize("name", ENGINES)
def test_predict(name):
    got = ENGINES[name].predict(X, (SIZES, CODES), _theta())
    assert_allclose(got, A2, rtol=RTOL)


@pytest.mark.parametrize("name", ENGINES)
def test_loss(name):
    work = np.zeros(work_size(SIZES, X.shape[0], gather=False))
    theta = _theta()
    got = ENGINES[name].batch_loss_grad(
        X, Y, SW, (SIZES, CODES), theta, np.zeros_like(theta), _scalars(), work
    )
    assert_allclose(got, LOSS, rtol=RTOL)


@pytest.mark.parametrize("name", ENGINES)
def test_hidden_delta(name):
    # relu' from the stored activations: the unit that was off (A1 == 0) gets no delta.
    got = DELTA2_W2T.copy()
    ENGINES[name].activation_derivative(A1, got, C.RELU)
    assert_allclose(got, DELTA1, rtol=RTOL)


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize(
    ("part", "expected"),
    [("dW1", DW1), ("dW2", DW2), ("db1", DB1), ("db2", DB2)],
    ids=["dW1", "dW2", "db1", "db2"],
)
def test_gradient(name, part, expected):
    work = np.zeros(work_size(SIZES, X.shape[0], gather=False))
    theta = _theta()
    grad = np.zeros_like(theta)
    ENGINES[name].batch_loss_grad(X, Y, SW, (SIZES, CODES), theta, grad, _scalars(), work)
    (dW1, dW2), (db1, db2) = unpack(grad, SIZES)
    got = {"dW1": dW1, "dW2": dW2, "db1": db1, "db2": db2}[part]
    assert_allclose(got, expected, rtol=RTOL)


def test_numba_deltas_left_in_work():
    # After a batch, the numba engine's ``work`` holds the deltas behind the activations:
    # [A1 (2x2), A2 (2x1), DELTA1 (2x2), DELTA2 (2x1)], weighted by sw (here ones).
    work = np.zeros(work_size(SIZES, X.shape[0], gather=False))
    theta = _theta()
    kernels.batch_loss_grad(X, Y, SW, (SIZES, CODES), theta, np.zeros_like(theta), _scalars(), work)
    got = np.concatenate([work[6:10], work[10:12]])
    expected = np.concatenate([DELTA1.ravel(), DELTA2.ravel()])
    assert_allclose(got, expected, rtol=RTOL)


@pytest.mark.parametrize("name", ENGINES)
def test_one_sgd_step(name):
    # One epoch with one batch of both rows is one SGD step; it returns loss * n.
    theta = _theta()
    grad = np.zeros_like(theta)
    velocity = np.zeros_like(theta)
    idx = np.arange(2, dtype=np.int64)
    work = np.zeros(work_size(SIZES, 2))
    total = ENGINES[name].run_epoch(
        (X, Y, SW, idx), 2, (SIZES, CODES), (theta, grad, velocity), _scalars(), work
    )
    (new_W1, new_W2), (new_b1, new_b2) = unpack(theta, SIZES)
    assert_allclose(total, 2 * LOSS, rtol=RTOL)
    assert_allclose(new_W1, NEW_W1, rtol=RTOL)
    assert_allclose(new_b1, NEW_B1, rtol=RTOL)
    assert_allclose(new_W2, NEW_W2, rtol=RTOL)
    assert_allclose(new_b2, NEW_B2, rtol=RTOL)


# --- Robust losses by hand ---------------------------------------------------------------
#
# Three samples of one output with weights sw = [1, 2, 1] (sum 4), outputs and targets
#
#     A = [1.5, 2.0, -1.5],  Y = [1.0, -1.0, 0.5],  so the residuals A - Y = [0.5, 3.0, -2.0].
#
# Huber (d = 1): r**2 / 2 inside [-d, d], d (|r| - d / 2) outside:
#     [0.125, 2.5, 1.5], weighted mean (0.125 + 2 * 2.5 + 1.5) / 4 = 6.625 / 4 = 1.65625;
#     delta: the residual clipped to [-1, 1], times sw: [0.5, 1, -1] * sw = [0.5, 2, -1].
# Absolute error: |r| = [0.5, 3, 2], weighted mean (0.5 + 6 + 2) / 4 = 2.125;
#     delta: sign(r) * sw = [1, 2, -1].
# Every number is a short binary fraction, so both engines reproduce them exactly.
ROBUST_A = np.array([[1.5], [2.0], [-1.5]])
ROBUST_Y = np.array([[1.0], [-1.0], [0.5]])
ROBUST_SW = np.array([1.0, 2.0, 1.0])
ROBUST = {
    # name: (loss code, loss, output delta)
    "huber": (C.HUBER, 1.65625, [[0.5], [2.0], [-1.0]]),
    "absolute_error": (C.ABSOLUTE_ERROR, 2.125, [[1.0], [2.0], [-1.0]]),
}


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize("loss", ROBUST)
def test_robust_loss(name, loss):
    code, expected, _ = ROBUST[loss]
    got = ENGINES[name].output_loss(ROBUST_A, ROBUST_Y, ROBUST_SW, code)
    assert got == expected


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize("loss", ROBUST)
def test_robust_output_delta(name, loss):
    code, _, expected = ROBUST[loss]
    if name == "numpy":
        got = reference.output_delta(ROBUST_A, ROBUST_Y, ROBUST_SW, code)
    else:
        got = np.empty_like(ROBUST_A)
        kernels.output_delta(ROBUST_A, ROBUST_Y, ROBUST_SW, code, got)
    np.testing.assert_array_equal(got, expected)
