"""Optimizer kernels: one step over the whole flat parameter vector."""

import numpy as np

from fastnn._codes import (
    BETA_1,
    BETA_2,
    EPSILON,
    LR,
    LR_INIT,
    MOMENTUM,
    NESTEROV,
    SGD,
    SOLVER,
    STEP,
)
from fastnn._jit import jit


@jit
def sgd_step(theta, grad, velocity, scalars):
    """One SGD step with (optionally Nesterov's) momentum, in place."""
    lr, mu = scalars[LR], scalars[MOMENTUM]
    nesterov = scalars[NESTEROV] != 0
    for k in range(theta.shape[0]):
        v = mu * velocity[k] - lr * grad[k]
        velocity[k] = v
        if nesterov:
            theta[k] += mu * v - lr * grad[k]
        else:
            theta[k] += v


@jit
def adam_step(theta, grad, m, v, scalars):
    """One Adam step (arXiv 1412.6980), bias correction folded into the rate."""
    beta_1, beta_2, eps = scalars[BETA_1], scalars[BETA_2], scalars[EPSILON]
    scalars[STEP] += 1
    t = scalars[STEP]
    lr_t = scalars[LR_INIT] * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    scalars[LR] = lr_t
    for k in range(theta.shape[0]):
        g = grad[k]
        m[k] = beta_1 * m[k] + (1 - beta_1) * g
        v[k] = beta_2 * v[k] + (1 - beta_2) * g**2
        theta[k] -= lr_t * m[k] / (np.sqrt(v[k]) + eps)


@jit
def optimizer_step(theta, grad, state, scalars, codes):
    """Dispatch to the solver's step; ``state`` starts with ``[velocity]`` or ``[m, v]``."""
    n = theta.shape[0]
    if codes[SOLVER] == SGD:
        sgd_step(theta, grad, state[:n], scalars)
    else:
        adam_step(theta, grad, state[:n], state[n : 2 * n], scalars)
