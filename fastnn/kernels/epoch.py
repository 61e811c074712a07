"""The epoch kernel: every mini-batch of one epoch in one compiled call."""

import numpy as np

from fastnn import reference
from fastnn._codes import BATCH_COUNT, BATCH_SIZE, CONVERGED, DIVERGED, MONITOR, SEEN, SHUFFLE, STOP
from fastnn._jit import jit
from fastnn.kernels.dense import batch_loss_grad
from fastnn.kernels.optim import optimizer_step
from fastnn.kernels.rng import shuffle

# The bookkeeping after each epoch is scalar code on ``scalars``: one source, compiled
# here and run as plain Python by the reference.
epoch_end = jit(reference.epoch_end)


@jit
def run_epoch(X, Y, sw, idx, batch_size, sizes, theta, grad, state, scalars, codes, work):
    """Train on the rows ``idx`` in mini-batches of ``batch_size`` (the last may be
    shorter); return the sum over batches of ``batch loss * batch length``.

    ``work`` starts with room to gather one batch of ``X``, ``Y`` and ``sw`` rows
    (contiguous, for BLAS), followed by the layer buffers of :mod:`.dense`.
    """
    n = idx.shape[0]
    n_in = X.shape[1]
    n_out = Y.shape[1]
    B = batch_size
    X_buf = work[: B * n_in]
    Y_buf = work[B * n_in : B * (n_in + n_out)]
    sw_buf = work[B * (n_in + n_out) : B * (n_in + n_out + 1)]
    layers = work[B * (n_in + n_out + 1) :]
    total = 0.0
    for start in range(0, n, B):
        nb = min(B, n - start)
        Xb = X_buf[: nb * n_in].reshape((nb, n_in))
        Yb = Y_buf[: nb * n_out].reshape((nb, n_out))
        swb = sw_buf[:nb]
        scalars[BATCH_COUNT] += 1
        for r in range(nb):
            row = idx[start + r]
            for c in range(n_in):
                Xb[r, c] = X[row, c]
            for c in range(n_out):
                Yb[r, c] = Y[row, c]
            swb[r] = sw[row]
        loss = batch_loss_grad(Xb, Yb, swb, sizes, theta, grad, scalars, codes, layers)
        total += loss * nb
        optimizer_step(theta, grad, state, scalars, codes)
    return total


@jit
def run_epochs(
    X, Y, sw, idx, n_epochs, sizes, theta, grad, state, scalars, codes, work, rng_state, losses
):
    """Run up to ``n_epochs`` epochs in one call; return how many ran.

    Same meaning as :func:`fastnn.reference.run_epochs`; the shuffle continues NumPy's
    Mersenne Twister stream in ``rng_state`` (see :mod:`.rng`).
    """
    n = idx.shape[0]
    batch_size = np.int64(scalars[BATCH_SIZE])
    saved = state[state.shape[0] - theta.shape[0] :]
    for epoch in range(n_epochs):
        saved[:] = theta
        if scalars[SHUFFLE] != 0:
            shuffle(idx, rng_state)
        total = run_epoch(
            X, Y, sw, idx, batch_size, sizes, theta, grad, state, scalars, codes, work
        )
        loss = total / n
        losses[epoch] = loss
        scalars[SEEN] += n
        if not np.isfinite(loss):
            theta[:] = saved
            scalars[STOP] = DIVERGED
            return epoch + 1
        if scalars[MONITOR] != 0:
            epoch_end(scalars, loss)
            if scalars[STOP] == CONVERGED:
                return epoch + 1
    return n_epochs
