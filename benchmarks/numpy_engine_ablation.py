"""Where the numpy engine's time goes: its overheads removed one at a time, measured.

Each stage below replaces one function of :mod:`fastnn.reference` by a leaner one with
the same results (sample weights, dropout, divergence and the float32 rules kept), by
patching the module in this process only: the source files are not touched. Stages are
applied cumulatively, the fits of all stages alternate round by round, and each stage's
loss curve is first checked against the unpatched engine's (1e-12 in float64).

    PYTHONPATH=. python benchmarks/numpy_engine_ablation.py xor,moons 9 [float32]

Written against fastnn/reference.py as of December 2026 (docs/numpy-baseline.md has the
figures it gave); a restructured engine may need the patches adapted or dropped.
"""

import statistics
import sys
import time
import warnings

import numpy as np
from workloads import PEER_EPOCHS, WORKLOADS, load, params

from fastnn import MLPClassifier, layout, reference
from fastnn import _codes as C

R = {name: getattr(reference, name) for name in dir(reference)}  # the originals


# S1: one RandomState per run_epochs call, not three state conversions per epoch.
def run_epochs_rng(X, Y, sw, idx, n_epochs, sizes, theta, grad, state, scalars, codes, work,
                   rng_state, losses):  # fmt: skip
    n = idx.shape[0]
    batch_size = int(scalars[C.BATCH_SIZE])
    saved = state[state.shape[0] - theta.shape[0] :]
    rs = None
    try:
        for epoch in range(n_epochs):
            saved[:] = theta
            if scalars[C.SHUFFLE]:
                if rs is None:
                    rs = np.random.RandomState(0)
                    rs.set_state(("MT19937", rng_state[:624], int(rng_state[624])))
                rs.shuffle(idx)
            total = reference.run_epoch(
                X, Y, sw, idx, batch_size, sizes, theta, grad, state, scalars, codes, work
            )
            loss = total / n
            losses[epoch] = loss
            scalars[C.SEEN] += n
            if not np.isfinite(loss):
                theta[:] = saved
                scalars[C.STOP] = C.DIVERGED
                return epoch + 1
            if scalars[C.MONITOR]:
                reference.epoch_end(scalars, loss)
                if scalars[C.STOP]:
                    return epoch + 1
        return n_epochs
    finally:
        if rs is not None:
            _, key, pos = rs.get_state()[:3]
            rng_state[:624] = key
            rng_state[624] = pos


# S2: the per-layer views of a flat vector made once, not four times per batch.
_views = {}


def unpack_cached(theta, sizes):
    key = (id(theta), theta.shape[0], theta.dtype.str)
    hit = _views.get(key)
    if hit is None or hit[0] is not theta or not np.array_equal(hit[1], sizes):
        hit = (theta, np.array(sizes), layout.unpack(theta, sizes))
        _views[key] = hit
    return hit[2]


# S3: relu's derivative as a multiplication by the mask, not a boolean assignment.
def activation_derivative_mask(A, delta, code):
    if code == C.RELU:
        np.multiply(delta, A > 0, out=delta)
    else:
        R["activation_derivative"](A, delta, code)


# S4: the loss of 0/1 targets as the log of the true class's probability (the same
# per-sample values as xlogy's pair), and the penalty as one dot of the flat weights.
def output_loss_light(A_out, Y, sw, loss):
    if loss not in (C.BINARY_LOG_LOSS, C.LOG_LOSS):
        return R["output_loss"](A_out, Y, sw, loss)
    eps = np.finfo(A_out.dtype).eps
    P = np.maximum(A_out, eps)
    np.minimum(P, 1 - eps, out=P)
    if loss == C.BINARY_LOG_LOSS:
        P = np.where(Y > 0, P, 1 - P)
        np.log(P, out=P)
        per_sample = P.sum(axis=1) if P.shape[1] > 1 else P[:, 0]
    else:
        np.log(P, out=P)  # finite: P was clipped, so the zeros of Y * log(P) are exact
        P *= Y
        per_sample = P.sum(axis=1)
    return -float(np.dot(sw, per_sample)) / float(sw.sum())


def batch_loss_grad_light(X, Y, sw, sizes, theta, grad, scalars, codes, work):
    activations = reference.forward(X, sizes, theta, codes, scalars)
    loss = reference.output_loss(activations[-1], Y, sw, codes[C.OUTPUT])
    w = theta[: int(scalars[C.N_WEIGHTS])]
    loss += 0.5 * scalars[C.ALPHA] * float(np.dot(w, w)) / sw.sum()
    reference.backward(activations, Y, sw, sizes, theta, grad, scalars, codes)
    return loss


# S5: backward into the gradient's views; the L2 term and the division on the flat
# vector once.
def backward_inplace(activations, Y, sw, sizes, theta, grad, scalars, codes):
    alpha = scalars[C.ALPHA]
    coefs, _ = reference.unpack(theta, sizes)
    dcoefs, dintercepts = reference.unpack(grad, sizes)
    sw_sum = sw.sum()
    delta = reference.output_delta(activations[-1], Y, sw, codes[C.OUTPUT])
    for i in range(len(coefs) - 1, -1, -1):
        A_prev = activations[i]
        np.matmul(A_prev.T, delta, out=dcoefs[i])
        np.add.reduce(delta, axis=0, out=dintercepts[i])
        if i > 0:
            delta = delta @ coefs[i].T
            p = reference.dropout_rate(scalars, i - 1)
            if p > 0:
                reference.dropout_derivative(A_prev, delta, codes[C.HIDDEN], p, scalars, i - 1)
            else:
                reference.activation_derivative(A_prev, delta, codes[C.HIDDEN])
    n_w = int(scalars[C.N_WEIGHTS])
    grad[:n_w] += alpha * theta[:n_w]
    grad /= sw_sum


# S6: Adam in place, into scratch vectors kept between steps.
_scratch = {}


def adam_step_inplace(theta, grad, m, v, scalars):
    T = theta.dtype.type
    beta_1, beta_2 = scalars[C.BETA_1], scalars[C.BETA_2]
    scalars[C.STEP] += 1
    t = scalars[C.STEP]
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
    lr_t = scalars[C.RATE] * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    scalars[C.LR] = lr_t
    np.sqrt(v, out=s)
    s += T(scalars[C.EPSILON])
    np.multiply(m, lr_t, out=u, dtype=np.float64)
    u /= s
    theta -= u


# S7: the epoch's rows gathered once, then sliced per batch.
def run_epoch_gather(X, Y, sw, idx, batch_size, sizes, theta, grad, state, scalars, codes, work):
    total = 0.0
    n = idx.shape[0]
    Xs, Ys, sws = X[idx], Y[idx], sw[idx]
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        scalars[C.BATCH_COUNT] += 1
        loss = reference.batch_loss_grad(
            Xs[start:stop], Ys[start:stop], sws[start:stop], sizes, theta, grad, scalars,
            codes, work,
        )  # fmt: skip
        total += loss * (stop - start)
        reference.optimizer_step(theta, grad, state, scalars, codes)
    return total


STAGES = {
    "S1-rng": {"run_epochs": run_epochs_rng},
    "S2-views": {"unpack": unpack_cached},
    "S3-relu": {"activation_derivative": activation_derivative_mask},
    "S4-loss": {"output_loss": output_loss_light, "batch_loss_grad": batch_loss_grad_light},
    "S5-backward": {"backward": backward_inplace},
    "S6-adam": {"adam_step": adam_step_inplace},
    "S7-gather": {"run_epoch": run_epoch_gather},
}


def apply(stages):
    """Restore the originals, then patch in the given stages."""
    for name, f in R.items():
        if callable(f) and not name.startswith("__"):
            setattr(reference, name, f)
    for stage in stages:
        for name, f in STAGES[stage].items():
            setattr(reference, name, f)


def main(workloads, runs, dtype="float64"):
    stages = list(STAGES)
    configs = [stages[:k] for k in range(len(stages) + 1)]
    warnings.simplefilter("ignore")
    for w in workloads:
        X, y = load(WORKLOADS[w][0])
        epochs = PEER_EPOCHS.get(w, WORKLOADS[w][3])
        check = params(w, 50 if w == "xor" else 3)
        apply([])
        ref = MLPClassifier(**check, backend="numpy", dtype=dtype).fit(X, y).loss_curve_
        for c in configs[1:]:
            apply(c)
            curve = MLPClassifier(**check, backend="numpy", dtype=dtype).fit(X, y).loss_curve_
            gap = np.max(np.abs(np.subtract(curve, ref)))
            assert gap < (1e-12 if dtype == "float64" else 1e-6), (w, c, gap)
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
            print(f"{w:<16}{dtype:<8}{label:<16} median {med:9.4f} ms/epoch  range "
                  f"{min(times[i]):.4f}-{max(times[i]):.4f}{saved}", flush=True)  # fmt: skip
            previous = med


if __name__ == "__main__":
    main(sys.argv[1].split(","), int(sys.argv[2]), *sys.argv[3:4])
