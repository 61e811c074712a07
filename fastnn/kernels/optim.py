"""Optimizer kernels: one step over the whole flat parameter vector."""

import numpy as np

from fastnn._codes import (
    ADAM,
    ADAMW,
    BETA_1,
    BETA_2,
    EPSILON,
    LR,
    MOMENTUM,
    N_WEIGHTS,
    NESTEROV,
    RATE,
    SGD,
    SOLVER,
    STEP,
    WEIGHT_DECAY,
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
    lr_t = scalars[RATE] * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    scalars[LR] = lr_t
    for k in range(theta.shape[0]):
        g = grad[k]
        m[k] = beta_1 * m[k] + (1 - beta_1) * g
        v[k] = beta_2 * v[k] + (1 - beta_2) * g**2
        theta[k] -= lr_t * m[k] / (np.sqrt(v[k]) + eps)


@jit
def adamw_step(theta, grad, m, v, scalars):
    """One AdamW step (arXiv 1711.05101): decoupled weight decay, then Adam."""
    decay = 1 - scalars[RATE] * scalars[WEIGHT_DECAY]
    for k in range(np.int64(scalars[N_WEIGHTS])):
        theta[k] *= decay
    adam_step(theta, grad, m, v, scalars)


@jit
def rmsprop_step(theta, grad, v, scalars):
    """One RMSprop step, decay rate ``rho = beta_2``."""
    rho, lr, eps = scalars[BETA_2], scalars[RATE], scalars[EPSILON]
    for k in range(theta.shape[0]):
        g = grad[k]
        v[k] = rho * v[k] + (1 - rho) * g**2
        theta[k] -= lr * g / (np.sqrt(v[k]) + eps)


@jit
def optimizer_step(theta, grad, state, scalars, codes):
    """Dispatch to the solver's step; ``state`` starts with the solver's moments."""
    n = theta.shape[0]
    solver = codes[SOLVER]
    if solver == SGD:
        sgd_step(theta, grad, state[:n], scalars)
    elif solver == ADAM:
        adam_step(theta, grad, state[:n], state[n : 2 * n], scalars)
    elif solver == ADAMW:
        adamw_step(theta, grad, state[:n], state[n : 2 * n], scalars)
    else:
        rmsprop_step(theta, grad, state[:n], scalars)
