"""The optimizer steps of the numpy engine: SGD with momentum, Adam, AdamW, RMSprop.

Part 5 of the textbook (:mod:`fastnn.reference`, which imports these names). Each step
updates the flat parameter vector ``theta`` in place from the gradient ``grad`` and the
solver's moment vectors, which share ``theta``'s layout (:mod:`fastnn.layout`); the
learning rate and the step count live in ``scalars`` (:mod:`fastnn._codes`). Twins of
:mod:`fastnn.kernels.optim`, of the same names.
"""

import numpy as np

from fastnn import _codes as C


def sgd_step(theta, grad, velocity, scalars):
    """One SGD step with momentum: ``v = mu v - lr g``; ``theta += v``.

    With Nesterov's momentum the step looks ahead: ``theta += mu v - lr g``
    (Sutskever et al., ICML 2013), as scikit-learn does.
    """
    hyper, counts = scalars
    lr, mu = hyper[C.LR], hyper[C.MOMENTUM]
    velocity *= mu
    velocity -= lr * grad
    if counts[C.NESTEROV]:
        theta += mu * velocity - lr * grad
    else:
        theta += velocity


def adam_step(theta, grad, m, v, scalars):
    """One Adam step (Kingma and Ba, arXiv 1412.6980), with the bias correction
    folded into the learning rate: ``lr_t = lr sqrt(1 - b2**t) / (1 - b1**t)``, where
    ``lr`` is the scheduled rate ``hyper[RATE]``.

    As scikit-learn's under NumPy 2: the moments and ``sqrt(v) + eps`` in the
    parameters' dtype ``T`` (its hyper-parameters are Python floats), the update in
    float64 (its rate is a NumPy float64), rounded when it is subtracted. The update is
    made float64 explicitly, so that NumPy 1's promotion rules give the same."""
    hyper, counts = scalars
    T = theta.dtype.type
    beta_1, beta_2 = hyper[C.BETA_1], hyper[C.BETA_2]
    counts[C.STEP] += 1
    t = float(counts[C.STEP])  # a float power, as scikit-learn's
    m *= T(beta_1)
    m += T(1 - beta_1) * grad
    v *= T(beta_2)
    v += T(1 - beta_2) * grad**2
    lr_t = hyper[C.RATE] * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    hyper[C.LR] = lr_t
    theta -= lr_t * m.astype(np.float64, copy=False) / (np.sqrt(v) + T(hyper[C.EPSILON]))


def adamw_step(theta, grad, m, v, scalars):
    """One AdamW step (Loshchilov and Hutter, arXiv 1711.05101): the weights first decay,
    ``W *= 1 - lr * weight_decay``, apart from the gradient; then an Adam step."""
    hyper, counts = scalars
    n_weights = int(counts[C.N_WEIGHTS])
    theta[:n_weights] *= 1 - hyper[C.RATE] * hyper[C.WEIGHT_DECAY]
    adam_step(theta, grad, m, v, scalars)


def rmsprop_step(theta, grad, v, scalars):
    """One RMSprop step (Tieleman and Hinton, 2012, lecture 6.5):
    ``v = rho v + (1 - rho) g**2``; ``theta -= lr g / (sqrt(v) + eps)``, with
    ``rho = beta_2``, in the parameters' dtype ``T`` as :func:`adam_step`."""
    hyper, _ = scalars
    T = theta.dtype.type
    rho = hyper[C.BETA_2]
    v *= T(rho)
    v += T(1 - rho) * grad**2
    theta -= (
        hyper[C.RATE] * grad.astype(np.float64, copy=False) / (np.sqrt(v) + T(hyper[C.EPSILON]))
    )


def optimizer_step(theta, grad, state, scalars, codes):
    """Dispatch to the solver's step; ``state`` starts with the solver's moment vectors:
    ``[velocity]`` (sgd), ``[m, v]`` (adam, adamw) or ``[v]`` (rmsprop)."""
    n = theta.shape[0]
    solver = codes[C.SOLVER]
    if solver == C.SGD:
        sgd_step(theta, grad, state[:n], scalars)
    elif solver == C.ADAM:
        adam_step(theta, grad, state[:n], state[n : 2 * n], scalars)
    elif solver == C.ADAMW:
        adamw_step(theta, grad, state[:n], state[n : 2 * n], scalars)
    else:
        rmsprop_step(theta, grad, state[:n], scalars)
