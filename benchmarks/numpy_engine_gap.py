"""What the numpy engine's remaining gap to plain NumPy is made of, measured.

Each stage below removes, from :mod:`fastnn.reference`, one thing the engine keeps and
the plain baseline (benchmarks/plain_numpy.py) does not, by patching the module in this
process only: the source files are not touched. Stages are cumulative, the fits of all
stages alternate round by round, and medians per epoch are printed.

    PYTHONPATH=. python benchmarks/numpy_engine_gap.py xor,moons 9 [float32]

The stages that keep the math are first checked against the unpatched engine (loss
curve to 1e-12 in float64, 1e-6 in float32, as plain NumPy is). "G2 no batch loss"
drops the loss altogether, so it is checked on the weights only: it is an upper bound
of what computing the loss once per epoch, as plain NumPy does, would save. These
stages are not proposals: each breaks a rule the engine keeps (docs/numpy-baseline.md).
"""

import statistics
import sys
import time
import warnings

import numpy as np
from scipy.special import xlogy
from workloads import PEER_EPOCHS, WORKLOADS, load, params

from fastnn import MLPClassifier, reference, reference_optim
from fastnn import _codes as C

PATCHED = {
    reference: ["output_loss", "output_delta", "penalty", "_backward", "_run_epoch"],
    reference_optim: ["adam_step"],
}
ORIGINAL = {(m, name): getattr(m, name) for m, names in PATCHED.items() for name in names}


# G1: no sample weights: the multiplications by sw (ones) skipped, the mean over rows
# taken by dividing by their count (benchmarks fit classifiers: log-losses only).
def output_delta_unweighted(A_out, Y, sw, loss):
    return A_out - Y


def output_loss_unweighted(A_out, Y, sw, loss):
    eps = np.finfo(A_out.dtype).eps
    P = np.maximum(A_out, eps)
    np.minimum(P, 1 - eps, out=P)
    if loss == C.BINARY_LOG_LOSS:
        per_sample = xlogy(Y, P) + xlogy(1 - Y, 1 - P)
    else:
        per_sample = xlogy(Y, P)
    return -float(np.add.reduce(np.add.reduce(per_sample, axis=0) / sw.shape[0]))


# G2: no loss per batch (its clip, logarithms, sums and the penalty's dots).
def no_loss(*args):
    return 0.0


# G3: plain NumPy's backward: 1/n folded into the output delta, db as ones @ delta, the
# L2 term as (alpha/n) W. The same math, rounded in another order.
def backward_folded(activations, Y, sw, net, theta, grad, scalars, codes):
    hyper, counts = scalars
    n = sw.shape[0]
    delta = reference.output_delta(activations[-1], Y, sw, codes[C.OUTPUT])
    delta /= n
    ones = np.ones(n, dtype=delta.dtype)
    for i in range(len(net.coefs) - 1, -1, -1):
        A_prev = activations[i]
        np.matmul(A_prev.T, delta, out=net.dcoefs[i])
        np.dot(ones, delta, out=net.dintercepts[i])
        if i > 0:
            delta = delta @ net.coefs[i].T
            reference.activation_derivative(A_prev, delta, codes[C.HIDDEN])
    k = net.n_weights
    grad[:k] += (hyper[C.ALPHA] / n) * theta[:k]


# G4: Adam in place, into scratch vectors kept between steps (the float32 rule kept).
_scratch = {}


def adam_step_inplace(theta, grad, m, v, scalars):
    hyper, counts = scalars
    T = theta.dtype.type
    beta_1, beta_2 = hyper[C.BETA_1], hyper[C.BETA_2]
    counts[C.STEP] += 1
    t = counts[C.STEP]
    key = (theta.shape[0], theta.dtype.str)
    if key not in _scratch:
        _scratch[key] = (np.empty_like(theta), np.empty(theta.shape, np.float64))
    s, u = _scratch[key]
    m *= T(beta_1)
    np.multiply(grad, T(1 - beta_1), out=s)
    m += s
    v *= T(beta_2)
    np.multiply(grad, grad, out=s)
    s *= T(1 - beta_2)
    v += s
    lr_t = hyper[C.RATE] * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    hyper[C.LR] = lr_t
    np.sqrt(v, out=s)
    s += T(hyper[C.EPSILON])
    np.multiply(m, lr_t, out=u, dtype=np.float64)
    u /= s
    theta -= u


# G5: the epoch's rows gathered once, then sliced per batch.
def run_epoch_gather(X, Y, sw, idx, batch_size, net, theta, grad, state, scalars, codes):
    hyper, counts = scalars
    total = 0.0
    n = idx.shape[0]
    Xs, Ys, sws = X[idx], Y[idx], sw[idx]
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        counts[C.BATCH_COUNT] += 1
        loss = reference._batch_loss_grad(
            Xs[start:stop], Ys[start:stop], sws[start:stop], net, theta, grad, scalars, codes
        )
        total += loss * (stop - start)
        reference.optimizer_step(theta, grad, state, scalars, codes)
    return total


STAGES = {
    "G1-no-weights": {
        (reference, "output_delta"): output_delta_unweighted,
        (reference, "output_loss"): output_loss_unweighted,
    },
    "G2-no-batch-loss": {(reference, "output_loss"): no_loss, (reference, "penalty"): no_loss},
    "G3-folded-1/n": {(reference, "_backward"): backward_folded},
    "G4-adam-in-place": {(reference_optim, "adam_step"): adam_step_inplace},
    "G5-gather": {(reference, "_run_epoch"): run_epoch_gather},
}


def apply(stages):
    """Restore the originals, then patch in the given stages."""
    for (module, name), f in ORIGINAL.items():
        setattr(module, name, f)
    for stage in stages:
        for (module, name), f in STAGES[stage].items():
            setattr(module, name, f)


def main(workloads, runs, dtype="float64"):
    stages = list(STAGES)
    configs = [stages[:k] for k in range(len(stages) + 1)]
    warnings.simplefilter("ignore")
    for w in workloads:
        X, y = load(WORKLOADS[w][0])
        epochs = PEER_EPOCHS.get(w, WORKLOADS[w][3])
        check = params(w, 50 if w == "xor" else 2)
        apply([])
        ref = MLPClassifier(**check, backend="numpy", dtype=dtype).fit(X, y)
        tol = 1e-12 if dtype == "float64" else 1e-6
        for c in configs[1:]:
            apply(c)
            est = MLPClassifier(**check, backend="numpy", dtype=dtype).fit(X, y)
            if "G2-no-batch-loss" not in c:
                gap = np.max(np.abs(np.subtract(est.loss_curve_, ref.loss_curve_)))
                assert gap < tol, (w, c, gap)
            for got, expected in zip(est.coefs_, ref.coefs_):
                np.testing.assert_allclose(got, expected, rtol=1e3 * tol, atol=tol)
        times = {i: [] for i in range(len(configs))}
        for _ in range(runs):
            for i, c in enumerate(configs):
                apply(c)
                start = time.perf_counter()
                MLPClassifier(**params(w, epochs), backend="numpy", dtype=dtype).fit(X, y)
                times[i].append((time.perf_counter() - start) / epochs * 1e3)
        apply([])
        first = previous = statistics.median(times[0])
        for i, c in enumerate(configs):
            med = statistics.median(times[i])
            label = "engine as is" if i == 0 else "+ " + c[-1]
            saved = "" if i == 0 else (
                f"  saves {previous - med:.4f} ms ({(previous - med) / first:.1%})"
            )  # fmt: skip
            print(f"{w:<16}{dtype:<8}{label:<18} median {med:9.4f} ms/epoch  range "
                  f"{min(times[i]):.4f}-{max(times[i]):.4f}{saved}", flush=True)  # fmt: skip
            previous = med


if __name__ == "__main__":
    main(sys.argv[1].split(","), int(sys.argv[2]), *sys.argv[3:4])
