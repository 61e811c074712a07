"""The epoch kernel: every mini-batch of one epoch in one compiled call."""

from fastnn._jit import jit
from fastnn.kernels.dense import batch_loss_grad
from fastnn.kernels.optim import optimizer_step


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
