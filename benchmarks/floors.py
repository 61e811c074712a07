"""How fast the benchmark's two target workloads could go on this machine, measured.

Issue 14 asks the numba engine for at least 50x plain NumPy's speed on xor and 5x on
moons (benchmarks/plain_numpy.py). This script measures what bounds those ratios, so
that the gap can be split into what fastnn could still win and what it cannot:

- ``xor``: the fixed cost of a fit (``fit`` with ``max_iter=1``), and the *fused floor*
  of an epoch: every step fastnn's epoch takes (the Mersenne Twister shuffle, the
  gather, the forward pass, the clipped log-loss and its L2 penalty, the backward pass,
  Adam's step with its two powers, the epoch's bookkeeping) written as one Numba
  function with no calls, for the 2-4-1 network alone. ``benchmarks/test_floors.py``
  holds its loss curve to fastnn's, so the floor does the same math.
- ``moons``: one BLAS thread's GFLOP/s on the products of the workload's blocks of
  rows, which bound what each of the two workers can do; whether two threads of such
  products run at twice one's speed (two cores, not one shared); and the *exchange
  floor* of two workers: what it costs, beyond the reads and writes themselves, for two
  threads to swap blocks of half the network's parameters through the hand-over's
  release store and acquire load. Splitting a batch's rows, the workers swap twice a
  batch (the gradient's halves, then the stepped parameters' halves), so half of one
  worker's epoch plus the swaps bounds any row split.

    PYTHONPATH=. python benchmarks/floors.py [rounds]

Nothing here is a fastnn kernel: the fused epoch is a measuring stick, not a proposal.
It has no sample weights, no other activations, losses, solvers or layer counts.
"""

import statistics
import sys
import threading
import time
import warnings

import numba
import numpy as np
from plain_numpy import PlainNumpyMLP
from threadpoolctl import threadpool_limits
from workloads import PEER_EPOCHS, WORKLOADS, flops_per_epoch, load, params

from fastnn import MLPClassifier, layout
from fastnn._workers import workers_forced
from fastnn.kernels.atomics import atomic_load, atomic_store


# The shuffle's draws are written out here rather than taken from fastnn.kernels.rng:
# with a call of fastnn's shuffle in its place, this epoch took 0.27 us instead of 0.20,
# and a floor must not pay fastnn's call structure. benchmarks/test_floors.py checks that
# the two draw alike.
@numba.njit(inline="always")
def _next_uint32(key):
    """NumPy's ``mt19937_next32`` on ``key`` (624 words, then the position)."""
    if key[624] >= 624:
        for i in range(624):
            y = (key[i] & np.uint32(0x80000000)) | (key[(i + 1) % 624] & np.uint32(0x7FFFFFFF))
            value = key[(i + 397) % 624] ^ (y >> np.uint32(1))
            if y & np.uint32(1):
                value ^= np.uint32(0x9908B0DF)
            key[i] = value
        key[624] = 0
    y = key[key[624]]
    key[624] += 1
    y ^= y >> np.uint32(11)
    y ^= (y << np.uint32(7)) & np.uint32(0x9D2C5680)
    y ^= (y << np.uint32(15)) & np.uint32(0xEFC60000)
    y ^= y >> np.uint32(18)
    return y


@numba.njit(error_model="numpy", nogil=True)
def fused_epochs(X, y, theta, key, losses, n_hidden):
    """Train a ``d``-``n_hidden``-1 relu network with a logistic output on ``(X, y)`` in
    one full batch per epoch, Adam with scikit-learn's defaults (``alpha=1e-4``,
    ``learning_rate_init=1e-3``), one epoch per entry of ``losses``; ``theta`` is in
    fastnn's layout (every ``W`` row by row, then every ``b``) and ``key`` the
    generator's state (as ``fastnn.stochastic``'s ``rng_state``)."""
    n, d = X.shape
    n_W1 = d * n_hidden
    n_W = n_W1 + n_hidden
    P = theta.shape[0]
    m, v, saved, grad = np.zeros(P), np.zeros(P), np.empty(P), np.empty(P)
    idx = np.arange(n)
    Xb, yb = np.empty((n, d)), np.empty(n)
    A, out = np.empty((n, n_hidden)), np.empty(n)
    eps, alpha, lr = np.finfo(np.float64).eps, 1e-4, 1e-3
    beta_1, beta_2, epsilon = 0.9, 0.999, 1e-8
    for epoch in range(losses.shape[0]):
        for k in range(P):
            saved[k] = theta[k]
        for i in range(n - 1, 0, -1):  # RandomState.shuffle
            high = np.uint32(i)
            mask = high
            mask |= mask >> np.uint32(1)
            mask |= mask >> np.uint32(2)
            mask |= mask >> np.uint32(4)
            mask |= mask >> np.uint32(8)
            mask |= mask >> np.uint32(16)
            while True:
                value = _next_uint32(key) & mask
                if value <= high:
                    break
            j = np.int64(value)
            idx[i], idx[j] = idx[j], idx[i]
        for r in range(n):
            for c in range(d):
                Xb[r, c] = X[idx[r], c]
            yb[r] = y[idx[r]]
        for r in range(n):  # forward
            z_out = 0.0
            for h in range(n_hidden):
                z = 0.0
                for c in range(d):
                    z += Xb[r, c] * theta[c * n_hidden + h]
                z = max(z + theta[n_W + h], 0.0)
                A[r, h] = z
                z_out += z * theta[n_W1 + h]
            out[r] = 1.0 / (1.0 + np.exp(-(z_out + theta[n_W + n_hidden])))
        loss = 0.0
        for r in range(n):
            p = min(max(out[r], eps), 1 - eps)
            if yb[r] != 0:
                loss -= yb[r] * np.log(p)
            if 1 - yb[r] != 0:
                loss -= (1 - yb[r]) * np.log(1 - p)
        squares = 0.0
        for k in range(n_W):
            squares += theta[k] * theta[k]
        losses[epoch] = loss / n + 0.5 * alpha * squares / n
        for k in range(P):  # backward
            grad[k] = 0.0
        for r in range(n):
            delta = out[r] - yb[r]
            grad[n_W + n_hidden] += delta
            for h in range(n_hidden):
                grad[n_W1 + h] += A[r, h] * delta
                delta_h = delta * theta[n_W1 + h] if A[r, h] > 0 else 0.0
                grad[n_W + h] += delta_h
                for c in range(d):
                    grad[c * n_hidden + h] += Xb[r, c] * delta_h
        for k in range(n_W):
            grad[k] = (grad[k] + alpha * theta[k]) / n
        for k in range(n_W, P):
            grad[k] = grad[k] / n
        t = np.float64(epoch + 1)  # Adam
        lr_t = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for k in range(P):
            m_k = beta_1 * m[k] + (1 - beta_1) * grad[k]
            v_k = beta_2 * v[k] + (1 - beta_2) * (grad[k] * grad[k])
            m[k], v[k] = m_k, v_k
            theta[k] -= lr_t * m_k / (np.sqrt(v_k) + epsilon)
        if not np.isfinite(losses[epoch]):
            theta[:] = saved
            return epoch
    return losses.shape[0]


def xor_start():
    """``(X, y, theta, key)``: fastnn's initial weights for the xor workload and its
    generator's state after drawing them, as a fit with ``random_state=0`` has them."""
    X, y = load("xor")
    rng = np.random.RandomState(params("xor", 1)["random_state"])
    sizes = [X.shape[1], *WORKLOADS["xor"][1], 1]
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):  # scikit-learn's _init_coef
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)))
        intercepts.append(rng.uniform(-bound, bound, fan_out))
    theta = np.concatenate([p.ravel() for p in coefs + intercepts])
    _, words, pos = rng.get_state()[:3]
    key = np.append(words, np.uint32(pos)).astype(np.uint32)
    return X.astype(np.float64), y.astype(np.float64), theta, key


def _median_time(run, rounds):
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times), max(times)


def xor_floor(rounds, epochs=200_000):
    """Seconds per epoch of :func:`fused_epochs` on xor (median, min, max)."""
    X, y, theta, key = xor_start()
    n_hidden = WORKLOADS["xor"][1][0]
    fused_epochs(X, y, theta.copy(), key.copy(), np.empty(10), n_hidden)  # compile

    def run():
        fused_epochs(X, y, theta.copy(), key.copy(), np.empty(epochs), n_hidden)

    return tuple(t / epochs for t in _median_time(run, rounds))


def fit_time(workload, make, rounds, epochs, **extra):
    """Seconds of a fit of ``epochs`` epochs of ``workload`` by the estimator class
    ``make`` with ``extra`` parameters (median, min, max), after one fit to warm up."""
    X, y = load(workload)
    est = make(**params(workload, epochs), **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
        return _median_time(lambda: est.fit(X, y), rounds)


def blas_rate(shape, dtype, rounds, reps=5000):
    """One BLAS thread's GFLOP/s on ``(m, k) @ (k, n)`` (median over rounds)."""
    m, k, n = shape
    rng = np.random.default_rng(0)
    A, B = rng.random((m, k)).astype(dtype), rng.random((k, n)).astype(dtype)
    C = np.empty((m, n), dtype=dtype)
    with threadpool_limits(1, user_api="blas"):

        def run():
            for _ in range(reps):
                np.dot(A, B, out=C)

        seconds = _median_time(run, rounds)[0] / reps
    return 2 * m * k * n / seconds / 1e9


@numba.njit(nogil=True)
def _products(A, B, C, reps):
    """``C = A @ B``, ``reps`` times, by BLAS (for one thread of :func:`core_scaling`)."""
    for _ in range(reps):
        np.dot(A, B, C)
    return C[0, 0]


def _on_threads(calls):
    """Seconds to run the functions ``calls`` each on a thread of its own, at once."""
    threads = [threading.Thread(target=call) for call in calls]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def core_scaling(shape, dtype, rounds, reps=20_000):
    """How much faster two threads of BLAS products of ``shape`` run than one
    (total work over time, median over rounds): near 2 on two cores, 1 on one shared."""
    m, k, n = shape
    rng = np.random.default_rng(0)
    pairs = [
        (
            rng.random((m, k)).astype(dtype),
            rng.random((k, n)).astype(dtype),
            np.empty((m, n), dtype=dtype),
        )
        for _ in range(2)
    ]
    for A, B, C in pairs:
        _products(A, B, C, 2)  # compile
    ratios = []
    with threadpool_limits(1, user_api="blas"):
        for _ in range(rounds):
            one = _on_threads([lambda: _products(*pairs[0], reps)])
            two = _on_threads([lambda p=p: _products(*p, reps) for p in pairs])
            ratios.append(2 * one / two)
    return statistics.median(ratios)


@numba.njit(nogil=True)
def _swap(ctl, me, rounds, mine, theirs):
    """Worker ``me`` of two, ``rounds`` times: write its block (``mine[r % 2]``),
    publish it (release store on ``ctl[me]``), wait for the other's (acquire load) and
    read it (``theirs[r % 2]``; two buffers, so a block is not written while the other
    worker reads it). Returns the sum of what it read."""
    other = 1 - me
    total = 0.0
    for r in range(rounds):
        block, seen = mine[r % 2], theirs[r % 2]
        for k in range(block.shape[0]):
            block[k] = r + k
        atomic_store(ctl, me, r + 1)
        while atomic_load(ctl, other) < r + 1:
            pass
        for k in range(seen.shape[0]):
            total += seen[k]
    return total


@numba.njit(nogil=True)
def _swap_alone(rounds, mine, theirs):
    """Both workers' writes and reads of :func:`_swap`, by one thread: no core to cross."""
    total = 0.0
    for r in range(rounds):
        for block in (mine[r % 2], theirs[r % 2]):
            for k in range(block.shape[0]):
                block[k] = r + k
        for seen in (theirs[r % 2], mine[r % 2]):
            for k in range(seen.shape[0]):
                total += seen[k]
    return total


def swap(n, dtype, rounds):
    """``(pair, alone, sums)``: per swap of ``n``-entry blocks, the seconds of two
    threads each doing one side of :func:`_swap`, and of one thread doing both sides
    (:func:`_swap_alone`); ``pair - alone / 2`` is what crossing the cores costs. The
    sums of what each read (the two sides', then the one thread's), so that a test can
    check what was read."""
    buffers = [np.zeros((2, n), dtype=dtype) for _ in range(2)]
    sums = [0.0, 0.0]

    def side(me):
        sums[me] = _swap(ctl, me, rounds, buffers[me], buffers[1 - me])

    ctl = np.zeros(2, dtype=np.int64)
    _on_threads([lambda: side(0), lambda: side(1)])  # compile
    _swap_alone(1, *buffers)
    ctl[:] = 0
    pair = _on_threads([lambda: side(0), lambda: side(1)]) / rounds
    started = time.perf_counter()
    alone_sum = _swap_alone(rounds, *buffers)
    alone = (time.perf_counter() - started) / rounds
    return pair, alone, (sums[0], sums[1], alone_sum)


def exchange_floor(n, dtype, rounds, swaps=20_000):
    """Seconds a swap of ``n``-entry blocks costs beyond its reads and writes (median
    over rounds of :func:`swap`)."""
    costs = []
    for _ in range(rounds):
        pair, alone, _ = swap(n, dtype, swaps)
        costs.append(pair - alone / 2)
    return statistics.median(costs)


def _range(t, scale, unit):
    return f"{t[0] * scale:.3f} {unit} ({t[1] * scale:.3f}-{t[2] * scale:.3f})"


def main(rounds=7):
    print(f"median of {rounds} rounds (min-max)")
    floor = xor_floor(rounds)
    print(f"xor fused floor: {_range(floor, 1e6, 'us')} an epoch")
    fixed = fit_time("xor", MLPClassifier, rounds * 10, 1)
    print(f"xor fastnn fit of 1 epoch: {_range(fixed, 1e3, 'ms')}")
    epochs, peer_epochs = WORKLOADS["xor"][3], PEER_EPOCHS["xor"]
    whole = fit_time("xor", MLPClassifier, rounds * 10, epochs)
    print(f"xor fastnn fit of {epochs} epochs: {_range(whole, 1e3, 'ms')}")
    plain = fit_time("xor", PlainNumpyMLP, rounds * 2, peer_epochs)[0] / peer_epochs
    now, best = whole[0] / epochs, fixed[0] / epochs + floor[0]
    print(
        f"  per epoch: plain NumPy {plain * 1e6:.2f} us, fastnn {now * 1e6:.3f} us "
        f"({plain / now:.1f}x); this fixed cost and the fused floor: {best * 1e6:.3f} us "
        f"({plain / best:.1f}x)"
    )
    _, hidden, batch, epochs = WORKLOADS["moons"]
    X, _ = load("moons")
    flops = flops_per_epoch(X, hidden, 1)
    block = batch // 2  # each worker's rows of a batch
    for dtype in ("float64", "float32"):
        rates = {
            shape: blas_rate(shape, dtype, rounds)
            for shape in [(block, hidden[0], hidden[1]), (batch, hidden[0], hidden[1])]
        }
        text = ", ".join(f"{m}x{k} @ {k}x{n}: {r:.0f}" for (m, k, n), r in rates.items())
        print(f"moons products, one BLAS thread, {dtype}, GFLOP/s: {text}")
        plain = fit_time("moons", PlainNumpyMLP, rounds, epochs, dtype=dtype)[0] / epochs
        fast = fit_time("moons", MLPClassifier, rounds * 3, epochs, dtype=dtype)[0] / epochs
        print(
            f"  per epoch: plain NumPy {plain * 1e3:.2f} ms, fastnn {fast * 1e3:.2f} ms "
            f"({plain / fast:.1f}x, {flops / fast / 1e9:.0f} GFLOP/s); 5x needs "
            f"{plain / 5 * 1e3:.2f} ms, {flops / (plain / 5) / 1e9:.0f} GFLOP/s on two cores"
        )
        print(
            f"  two threads of {block}x{hidden[0]} @ {hidden[0]}x{hidden[1]} products at once: "
            f"{core_scaling((block, hidden[0], hidden[1]), dtype, rounds):.2f}x one's speed"
        )
        with workers_forced(1):
            alone = fit_time("moons", MLPClassifier, rounds * 3, epochs, dtype=dtype)[0] / epochs
        n_params = layout.n_params(layout.layer_sizes(X.shape[1], hidden, 1))
        cost = exchange_floor(n_params // 2, dtype, rounds)
        batches = -(-X.shape[0] // batch)
        best = alone / 2 + 2 * batches * cost
        print(
            f"  one worker {alone * 1e3:.2f} ms an epoch; a swap of {n_params // 2} "
            f"parameters costs {cost * 1e6:.2f} us beyond its reads and writes; half the "
            f"one worker's epoch and two swaps a batch: {best * 1e3:.2f} ms ({plain / best:.1f}x)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
