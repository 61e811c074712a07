"""Optimizer kernels: one step over the whole flat parameter vector.

Each step has a scalar part (Adam's step count and bias-corrected rate, written to
``scalars``) and an elementwise part that can run over any range ``k0:k1`` of the
parameters, so that two workers can share one step (:mod:`.epoch`). The public steps
run both parts over the whole vector. The elementwise loops run over slices from index
0: LLVM vectorises them then, and not when the loop starts at a run-time offset.

Adam follows scikit-learn's arithmetic in float32 too: NumPy computes its moments, and
``sqrt(v) + eps``, in the parameters' dtype (its hyper-parameters are Python floats),
and the update in float64 (its bias-corrected rate is a NumPy float64), rounded once
when it is added. So the moments' hyper-parameters are rounded to the parameters' dtype
here first. In float32 this step is 1.6 times as fast as one that computes everything
in float64. RMSprop, which scikit-learn lacks, computes the same way.
"""

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


@jit(internal=True)
def _sgd_update(theta, grad, velocity, scalars):
    hyper, counts = scalars
    lr, mu = hyper[LR], hyper[MOMENTUM]
    nesterov = counts[NESTEROV] != 0
    for k in range(theta.shape[0]):
        v = mu * velocity[k] - lr * grad[k]
        velocity[k] = v
        if nesterov:
            theta[k] += mu * v - lr * grad[k]
        else:
            theta[k] += v


@jit
def sgd_step(theta, grad, velocity, scalars):
    """One SGD step with (optionally Nesterov's) momentum, in place."""
    _sgd_update(theta, grad, velocity, scalars)


@jit(internal=True)
def _adam_scalars(scalars):
    """Count the step and write the bias-corrected rate to ``hyper[LR]``."""
    hyper, counts = scalars
    beta_1, beta_2 = hyper[BETA_1], hyper[BETA_2]
    counts[STEP] += 1
    t = np.float64(counts[STEP])  # a float power, as the reference's
    hyper[LR] = hyper[RATE] * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)


@jit(internal=True)
def _adam_update(theta, grad, m, v, scalars):
    # Moments in the parameters' dtype T, the update in float64 (see the docstring).
    hyper, _ = scalars
    T = theta.dtype.type
    beta_1, beta_2 = hyper[BETA_1], hyper[BETA_2]
    b1, b2, c1, c2 = T(beta_1), T(beta_2), T(1 - beta_1), T(1 - beta_2)
    eps, lr_t = T(hyper[EPSILON]), hyper[LR]
    for k in range(theta.shape[0]):
        g = grad[k]
        # The new moments stay in registers for the update: reading them back after
        # the stores made the float64 step twice as slow.
        m_k = b1 * m[k] + c1 * g
        v_k = b2 * v[k] + c2 * (g * g)
        m[k] = m_k
        v[k] = v_k
        theta[k] -= lr_t * m_k / (np.sqrt(v_k) + eps)


@jit
def adam_step(theta, grad, m, v, scalars):
    """One Adam step (arXiv 1412.6980), bias correction folded into the rate."""
    _adam_scalars(scalars)
    _adam_update(theta, grad, m, v, scalars)


@jit(internal=True)
def _decay(W, scalars):
    """AdamW's decoupled weight decay on the weights ``W``."""
    hyper, _ = scalars
    decay = 1 - hyper[RATE] * hyper[WEIGHT_DECAY]
    for k in range(W.shape[0]):
        W[k] *= decay


@jit
def adamw_step(theta, grad, m, v, scalars):
    """One AdamW step (arXiv 1711.05101): decoupled weight decay, then Adam."""
    _, counts = scalars
    _decay(theta[: counts[N_WEIGHTS]], scalars)
    adam_step(theta, grad, m, v, scalars)


@jit(internal=True)
def _rmsprop_update(theta, grad, v, scalars):
    hyper, _ = scalars
    T = theta.dtype.type
    rho, c, eps = T(hyper[BETA_2]), T(1 - hyper[BETA_2]), T(hyper[EPSILON])
    lr = hyper[RATE]
    for k in range(theta.shape[0]):
        g = grad[k]
        v_k = rho * v[k] + c * (g * g)
        v[k] = v_k
        theta[k] -= lr * g / (np.sqrt(v_k) + eps)


@jit
def rmsprop_step(theta, grad, v, scalars):
    """One RMSprop step, decay rate ``rho = beta_2``."""
    _rmsprop_update(theta, grad, v, scalars)


@jit(internal=True)
def step_scalars(scalars, codes):
    """The scalar part of the solver's step (before any :func:`step_range`)."""
    solver = codes[SOLVER]
    if solver == ADAM or solver == ADAMW:
        _adam_scalars(scalars)


@jit(internal=True)
def step_range(theta, grad, state, scalars, codes, k0, k1):
    """The elementwise part of the solver's step on the parameters ``k0:k1``."""
    step_entries(theta, grad[k0:k1], state, scalars, codes, k0, k1)


@jit(inline=True)
def step_entries(theta, g, state, scalars, codes, k0, k1):
    """:func:`step_range` with the gradient of the entries ``k0:k1`` given on its own
    (``g``, ``k1 - k0`` entries), wherever it is kept."""
    _, counts = scalars
    n = theta.shape[0]
    solver = codes[SOLVER]
    t = theta[k0:k1]
    if solver == SGD:
        _sgd_update(t, g, state[k0:k1], scalars)
    elif solver == ADAM:
        _adam_update(t, g, state[k0:k1], state[n + k0 : n + k1], scalars)
    elif solver == ADAMW:
        _decay(theta[k0 : max(k0, min(k1, counts[N_WEIGHTS]))], scalars)
        _adam_update(t, g, state[k0:k1], state[n + k0 : n + k1], scalars)
    else:
        _rmsprop_update(t, g, state[k0:k1], scalars)


@jit
def optimizer_step(theta, grad, state, scalars, codes):
    """Dispatch to the solver's step; ``state`` starts with the solver's moments."""
    step_scalars(scalars, codes)
    step_range(theta, grad, state, scalars, codes, np.int64(0), theta.shape[0])
