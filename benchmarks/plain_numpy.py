"""The honest NumPy baseline: a minimal MLP classifier of the classic tutorial kind.

Written apart from fastnn (it imports nothing from it) and without its machinery: no
validation, no stopping rules, no callbacks, no divergence checks. What it keeps is the
math every benchmark fit does, as scikit-learn's ``MLPClassifier(solver="adam")`` does
it: Glorot-uniform weights drawn from ``RandomState(random_state)``, each epoch's
``RandomState.shuffle`` of the rows, mini-batches in that order, the forward pass
``Z = A W + b``, the hidden activation, a logistic (two classes) or softmax output, the
log-loss with its L2 term, the backward pass with
``dW = (A_prev.T @ delta + alpha W) / n`` and ``db = sum(delta) / n`` over the batch's
``n`` rows, and Adam with
the bias correction folded into the rate, ``lr_t = lr sqrt(1 - beta_2**t) / (1 -
beta_1**t)``. ``benchmarks/test_plain_numpy.py`` holds its loss curve equal to
fastnn's numpy engine, and to scikit-learn's, to ~1e-12 in float64.

It is written the way a careful NumPy user would write it to be fast: every buffer
allocated once per fit, the parameters and Adam's moments in one flat vector each (an
Adam step is a dozen vector operations whatever the depth), products by ``np.dot``
into preallocated outputs, in-place ufuncs, the rows shuffled once per epoch rather
than gathered per batch, and the output layer written straight into an epoch-long
array, so that the loss's logarithms are taken once per epoch rather than per batch;
the mean over the batch is folded into the output delta, and ``sum(delta)`` is a
product with a vector of ones. Each of these was timed against the plainer form and
kept only where it was faster (docs/numpy-baseline.md).

BLAS runs on one thread, as in fastnn's fit, except where a layer's product is large
enough for a second thread to pay (``blas_threads="auto"``): on this project's 2-core
machine two threads took a 2-512-512-1 epoch from 480 to 369 ms, but made the digits
workloads (products of 0.3 to 1.3 million multiply-adds) 5 to 7 times slower.

In float32 it follows scikit-learn's arithmetic too: the moments in float32, Adam's
update in float64 (scikit-learn's bias-corrected rate is a NumPy float64), rounded once
when it is subtracted.
"""

import math
import os

import numpy as np
from scipy.special import expit

# Multiply-adds of one layer's product from which two BLAS threads beat one
# (blas_threads="auto"): a 128x512 by 512x512 product is 2**25.
LARGE_PRODUCT = 2**24

_controller = None


def _blas_threads(n):
    """A context that limits BLAS to ``n`` threads (one controller per process: making
    one inspects every loaded library, which would cost a short fit more than it does)."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=n, user_api="blas")


class PlainNumpyMLP:
    """An MLP classifier trained by Adam on mini-batches, in plain NumPy.

    Takes scikit-learn's parameter names; those it has no use for (``tol``,
    ``n_iter_no_change``: it always runs ``max_iter`` epochs) are accepted and ignored.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", solver="adam",
                 alpha=1e-4, batch_size="auto", learning_rate_init=1e-3, max_iter=200,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, random_state=None,
                 dtype="float64", blas_threads="auto", **_ignored):  # fmt: skip
        if solver != "adam":
            raise ValueError(f"PlainNumpyMLP trains with adam only, not {solver!r}")
        if activation not in ("identity", "logistic", "tanh", "relu"):
            raise ValueError(f"unknown activation {activation!r}")
        self.hidden_layer_sizes = tuple(hidden_layer_sizes)
        self.activation, self.alpha, self.batch_size = activation, alpha, batch_size
        self.learning_rate_init, self.max_iter = learning_rate_init, max_iter
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.random_state, self.dtype, self.blas_threads = random_state, dtype, blas_threads

    def fit(self, X, y):
        X = np.ascontiguousarray(X, dtype=self.dtype)
        classes, labels = np.unique(y, return_inverse=True)
        n = X.shape[0]
        n_out = len(classes) if len(classes) > 2 else 1
        batch = min(200, n) if self.batch_size == "auto" else min(max(self.batch_size, 1), n)
        sizes = [X.shape[1], *self.hidden_layer_sizes, n_out]
        threads = self.blas_threads
        if threads == "auto":
            largest = max(batch * a * b for a, b in zip(sizes[:-1], sizes[1:]))
            threads = min(2, os.cpu_count() or 1) if largest >= LARGE_PRODUCT else 1
        with _blas_threads(threads):
            return self._fit(X, classes, labels, sizes, batch)

    def _fit(self, X, classes, labels, sizes, batch):
        T = X.dtype.type
        n, d = X.shape
        softmax = len(classes) > 2
        n_out = sizes[-1]
        # The targets in one array: the one-hot Y and, for two classes, 1 - y and 2y - 1,
        # with which the probability of the true class is (1 - y) + (2y - 1) p, exactly p
        # or 1 - p. (X stays apart: BLAS is slower on a strided block of rows.)
        targets = np.zeros((n, n_out + (0 if softmax else 2)), dtype=T)
        if softmax:
            targets[np.arange(n), labels] = 1
        else:
            targets[:, 0], targets[:, 1], targets[:, 2] = labels, 1 - labels, 2 * labels - 1
        n_layers = len(sizes) - 1
        rng = np.random.RandomState(self.random_state)

        # Parameters in one flat vector (all weights, then all biases), and views of it.
        n_weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        theta = np.empty(n_weights + sum(sizes[1:]), dtype=T)
        grad = np.empty_like(theta)
        W, b, dW, db = [], [], [], []
        start, bias = 0, n_weights
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            W.append(theta[start : start + fan_in * fan_out].reshape(fan_in, fan_out))
            dW.append(grad[start : start + fan_in * fan_out].reshape(fan_in, fan_out))
            b.append(theta[bias : bias + fan_out])
            db.append(grad[bias : bias + fan_out])
            start, bias = start + fan_in * fan_out, bias + fan_out
        # scikit-learn's initialisation: per layer, W then b from U(-r, r) in float64.
        factor = 2.0 if self.activation == "logistic" else 6.0
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            bound = np.sqrt(factor / (fan_in + fan_out))
            W[i][...] = rng.uniform(-bound, bound, (fan_in, fan_out))
            b[i][...] = rng.uniform(-bound, bound, fan_out)
        weights, grad_weights = theta[:n_weights], grad[:n_weights]

        # Adam's moments, and scratch vectors for the step (the update in float64).
        m, v = np.zeros_like(theta), np.zeros_like(theta)
        scratch = np.empty_like(theta)
        update = np.empty(theta.shape, dtype=np.float64)
        b1, b2, c1, c2 = T(self.beta_1), T(self.beta_2), T(1 - self.beta_1), T(1 - self.beta_2)
        eps, alpha = T(self.epsilon), self.alpha

        # One epoch's shuffled data and outputs; per-batch activations, deltas and masks.
        Xs, shuffled, P = np.empty_like(X), np.empty_like(targets), np.empty((n, n_out), dtype=T)
        Ys = shuffled[:, :n_out]
        p_true = np.empty(n, dtype=T)
        acts = [np.empty((batch, k), dtype=T) for k in sizes[1:-1]]
        deltas = [np.empty((batch, k), dtype=T) for k in sizes[1:]]
        masks = [np.empty((batch, k), dtype=bool) for k in sizes[1:-1]]
        order = np.arange(n)
        ones = np.ones(batch, dtype=T)
        rows = np.arange(n)
        tiny = np.finfo(T).eps
        activation = self.activation

        self.loss_curve_ = []
        step = 0
        for _ in range(self.max_iter):
            rng.shuffle(order)
            np.take(X, order, axis=0, out=Xs)
            np.take(targets, order, axis=0, out=shuffled)
            squares = 0.0  # sum over batches of sum(W**2), for the L2 term of the loss
            for lo in range(0, n, batch):
                hi = min(lo + batch, n)
                r = hi - lo
                # forward
                a = Xs[lo:hi]
                layer_in = [a]
                for i in range(n_layers - 1):
                    z = acts[i][:r]
                    np.dot(a, W[i], out=z)
                    z += b[i]
                    if activation == "relu":
                        np.maximum(z, 0.0, out=z)
                    elif activation == "tanh":
                        np.tanh(z, out=z)
                    elif activation == "logistic":
                        expit(z, out=z)
                    layer_in.append(z)
                    a = z
                out = P[lo:hi]
                np.dot(a, W[-1], out=out)
                out += b[-1]
                if softmax:
                    out -= out.max(axis=1, keepdims=True)
                    np.exp(out, out=out)
                    out /= out.sum(axis=1, keepdims=True)
                else:
                    expit(out, out=out)
                squares += float(np.dot(weights, weights))
                # backward: the output delta of log-loss with its paired output is A - Y
                delta = deltas[-1][:r]
                np.subtract(out, Ys[lo:hi], out=delta)
                delta /= r
                for i in range(n_layers - 1, -1, -1):
                    a = layer_in[i]
                    np.dot(a.T, delta, out=dW[i])
                    np.dot(ones[:r], delta, out=db[i])
                    if i == 0:
                        break
                    prev = deltas[i - 1][:r]
                    np.dot(delta, W[i].T, out=prev)
                    if activation == "relu":
                        mask = masks[i - 1][:r]
                        np.greater(a, 0.0, out=mask)
                        prev *= mask
                    elif activation == "tanh":
                        s = acts[i - 1][:r]  # A is not needed again: overwrite it
                        np.multiply(s, s, out=s)
                        np.subtract(1, s, out=s)
                        prev *= s
                    elif activation == "logistic":
                        prev *= a
                        np.subtract(1, a, out=a)
                        prev *= a
                    delta = prev
                # the L2 term, divided by the batch's length as delta was
                np.multiply(weights, alpha / r, out=scratch[:n_weights])
                grad_weights += scratch[:n_weights]
                # Adam
                step += 1
                lr_t = (self.learning_rate_init * math.sqrt(1 - self.beta_2**step)
                        / (1 - self.beta_1**step))  # fmt: skip
                m *= b1
                np.multiply(grad, c1, out=scratch)
                m += scratch
                v *= b2
                np.multiply(grad, grad, out=scratch)
                scratch *= c2
                v += scratch
                np.sqrt(v, out=scratch)
                scratch += eps
                np.multiply(m, lr_t, out=update, dtype=np.float64)
                update /= scratch
                theta -= update
            # The epoch's loss: log-loss of the outputs each batch produced, clipped as
            # scikit-learn clips them, plus each batch's L2 term, per sample.
            if softmax:
                p = P[rows, labels[order]]
            else:
                p = np.multiply(shuffled[:, 2], P[:, 0], out=p_true)
                p += shuffled[:, 1]
            np.maximum(p, tiny, out=p)
            np.minimum(p, 1 - tiny, out=p)
            np.log(p, out=p)
            data_loss = -float(np.add.reduce(p, dtype=np.float64))
            self.loss_curve_.append((data_loss + 0.5 * alpha * squares) / n)
        self.n_iter_ = self.max_iter
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else None
        self.classes_ = classes
        self.coefs_ = [w.copy() for w in W]
        self.intercepts_ = [c.copy() for c in b]
        return self
