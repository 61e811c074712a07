"""The epoch kernel's two workers: a mini-batch split in two blocks of rows gives the
same bits on two threads as on one, and the reference's numbers.

``epoch.run_epochs`` splits each batch in two blocks when the shapes are large enough
(``batch_parts``); its two-thread driver runs the same blocks with ``epoch.helper`` as
worker 1 (``fastnn/_workers.py``). These tests
drive both kernels directly, over the cases where a block's bookkeeping could go
wrong: dropout (each block's rows keep their numbers in the batch), a last batch of
one row (an empty second block), training that stops in the middle of a call
(convergence, divergence), and both dtypes.
"""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastnn import _codes as C
from fastnn import _workers, kernels, reference
from fastnn._workers import fit_workers
from fastnn.kernels import epoch
from fastnn.kernels.epoch import batch_parts
from fastnn.layout import layer_sizes, n_params, work_size

N_FEATURES = 5
BATCH = 128
HIDDEN = (48, 32)  # 128 rows x 1,900 weights: large enough to split
ON_ONE, ON_TWO = _workers.drivers(epoch.run_epochs, epoch.helper)


def problem(dtype, n_samples, seed=0, hidden=HIDDEN):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, N_FEATURES)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, n_samples)]
    sw = rng.uniform(0.5, 2.0, size=n_samples).astype(dtype)
    sizes = layer_sizes(N_FEATURES, hidden, 3)
    theta = (0.3 * rng.normal(size=n_params(sizes))).astype(dtype)
    return X, Y, sw, sizes, theta


def scalars_for(sizes, solver, dropout=0.0, lr=0.01, n_iter_no_change=1e9, tol=1e-4,
                batch=BATCH):  # fmt: skip
    s = C.new_scalars(len(sizes) - 2)
    hyper, counts = s
    hyper[C.LR] = hyper[C.LR_INIT] = hyper[C.RATE] = lr
    hyper[C.MOMENTUM] = 0.9
    hyper[C.BETA_1], hyper[C.BETA_2], hyper[C.EPSILON] = 0.9, 0.999, 1e-8
    hyper[C.ALPHA] = 1e-3
    counts[C.N_WEIGHTS] = int(np.sum(sizes[:-1] * sizes[1:]))
    counts[C.DROPOUT_SEED] = 7
    counts[C.BATCH_SIZE] = batch
    counts[C.SHUFFLE] = 1
    counts[C.MONITOR] = 1
    hyper[C.BEST] = np.inf
    hyper[C.TOL] = tol
    hyper[C.N_ITER_NO_CHANGE] = n_iter_no_change
    hyper[C.DROPOUT : C.DROPOUT + len(sizes) - 2] = dropout
    return s


def run(engine, dtype, workers, n_samples=5 * BATCH, n_epochs=4, solver=C.ADAM,
        hidden=HIDDEN, batch=BATCH, output=C.LOG_LOSS, activation=C.RELU, kernel=None,
        **kw):  # fmt: skip
    """Everything ``run_epochs`` (or ``kernel``, a driver, if given) returns or changes, after
    ``n_epochs`` epochs. ``output``: the loss, on three columns of targets (log-loss) or
    two (binary log-loss, squared error)."""
    X, Y, sw, sizes, theta = problem(dtype, n_samples, hidden=hidden)
    if output != C.LOG_LOSS:
        Y = Y[:, :2] if output == C.BINARY_LOG_LOSS else X[:, :2] - X[:, 2:4]
        sizes = layer_sizes(N_FEATURES, hidden, 2)
        theta = theta[: n_params(sizes)]
    scalars = scalars_for(sizes, solver, batch=batch, **kw)
    if kernel is None:
        kernel = ON_TWO if workers == 2 and engine is kernels else engine.run_epochs
    grad = np.zeros_like(theta)
    state = np.zeros((C.MOMENTS[solver] + 1) * theta.shape[0], dtype=dtype)
    work = np.zeros(work_size(sizes, batch), dtype=dtype)
    idx = np.arange(n_samples, dtype=np.int64)
    _, key, pos = np.random.RandomState(0).get_state()[:3]
    rng_state = np.append(key, pos).astype(np.uint32)
    losses = np.zeros(n_epochs)
    codes = np.array([activation, output, solver], dtype=np.int64)
    with np.errstate(all="ignore"):
        done = kernel(
            (X, Y, sw, idx), (sizes, codes), (theta, grad, state), scalars, work, rng_state, losses
        )
    return {
        "done": np.array([done]),
        "losses": losses,
        "theta": theta,
        "grad": grad,
        "state": state,
        "hyper": scalars[0],
        "counts": scalars[1],
        "idx": idx,
        "rng_state": rng_state,
    }


CASES = {
    "plain": {},
    "dropout": {"dropout": 0.3},
    "one-row-last-batch": {"n_samples": 4 * BATCH + 1},
    "odd-last-batch": {"n_samples": 4 * BATCH + 7, "solver": C.SGD},
    # Every epoch after the first fails to improve by tol: stops after the second.
    "converges-mid-call": {"n_iter_no_change": 0, "tol": 10.0, "n_epochs": 8},
    "diverges-mid-call": {"solver": C.SGD, "lr": 1e12, "n_epochs": 6},
    # Blocks of 16 rows and a 128 <- 64 layer: back-propagated through the transposed
    # product (dense.backpropagate), with dropout.
    "transposed-backprop": {
        "hidden": (128, 64),
        "batch": 32,
        "n_samples": 5 * 32 + 3,
        "dropout": 0.2,
    },  # fmt: skip
}


def test_these_shapes_are_split_in_two():
    sizes = layer_sizes(N_FEATURES, HIDDEN, 3)
    assert batch_parts(sizes, BATCH) == 2
    assert kernels.epoch_workers(sizes, BATCH) == (epoch.run_epochs, epoch.helper, True)
    assert _workers.epochs_runner(sizes, BATCH, workers=2) is ON_TWO
    assert _workers.epochs_runner(sizes, BATCH, workers=1) is ON_ONE
    transposed = CASES["transposed-backprop"]
    assert batch_parts(layer_sizes(N_FEATURES, transposed["hidden"], 3), transposed["batch"]) == 2
    xor = layer_sizes(2, (4,), 1)
    assert batch_parts(xor, 4) == 1
    assert not kernels.epoch_workers(xor, 4)[2]  # a second thread would not pay
    assert _workers.epochs_runner(xor, 4, workers=2) is ON_ONE


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_two_workers_give_the_bits_of_one(case, dtype):
    one = run(kernels, dtype, workers=1, **CASES[case])
    two = run(kernels, dtype, workers=2, **CASES[case])
    for name in one:
        assert_array_equal(two[name], one[name], err_msg=name)


def test_stopping_cases_do_stop_early():
    converged = run(kernels, np.float64, 2, **CASES["converges-mid-call"])
    assert converged["done"][0] < 8 and converged["counts"][C.STOP] == C.CONVERGED
    diverged = run(kernels, np.float64, 2, **CASES["diverges-mid-call"])
    assert diverged["done"][0] < 6 and diverged["counts"][C.STOP] == C.DIVERGED
    assert np.isfinite(diverged["theta"]).all()


@pytest.mark.parametrize("case", [c for c in CASES if c != "diverges-mid-call"])
def test_two_workers_match_the_reference(case):
    got = run(kernels, np.float64, workers=2, **CASES[case])
    expected = run(reference, np.float64, workers=2, **CASES[case])
    assert_array_equal(got["done"], expected["done"])
    assert_array_equal(got["idx"], expected["idx"])  # the same shuffles
    assert_array_equal(got["rng_state"], expected["rng_state"])
    # Summing a batch's gradient in two blocks rounds differently from one product.
    for name in ("losses", "theta", "state"):
        assert_allclose(got[name], expected[name], rtol=1e-9, atol=1e-12, err_msg=name)
    assert got["counts"][C.BATCH_COUNT] == expected["counts"][C.BATCH_COUNT]


def test_worker_1_halted_while_waiting_for_a_step_steps_nothing():
    # The engine never runs two threads on batches of one block (epoch_workers), but
    # if the two-thread driver is called on them, worker 1 claims each (empty) second block and
    # waits for a step share that never comes, until the call halts it: it must then
    # stop, not step the second half of the parameters once more.
    assert batch_parts(layer_sizes(N_FEATURES, (6,), 3), BATCH) == 1
    one = run(kernels, np.float64, workers=1, hidden=(6,))
    two = run(kernels, np.float64, workers=2, hidden=(6,))
    for name in one:
        assert_array_equal(two[name], one[name], err_msg=name)


def test_worker_1_failing_leaves_the_batch_unstepped(monkeypatch):
    """Worker 1 claims batch 0's second block and fails. Worker 0 finds the call halted
    while it waits for that block: it must stop with the parameters, Adam's step count
    and its rate as they were, as the batch was not stepped (a change that counted the
    step before the wait, so that worker 1 need not wait for it, would break this)."""
    from fastnn.kernels import handover as H

    def failing_helper(*args):
        ctl, _ = args[-1]
        ctl[H.CLAIMED] = 1  # batch 0's second block is this worker's
        raise RuntimeError("worker 1 failed")

    def at_once(fn, args):  # worker 1 runs, and fails, before worker 0 starts
        try:
            fn(*args)
        except RuntimeError as error:
            failure = error

        def wait():
            raise failure

        return wait

    monkeypatch.setattr(_workers, "start_helper", at_once)
    _, on_two = _workers.drivers(epoch.run_epochs, failing_helper)

    def kernel(*args):
        with pytest.raises(RuntimeError, match="worker 1 failed"):
            on_two(*args)
        return 0

    got = run(kernels, np.float64, workers=2, kernel=kernel)
    assert_array_equal(got["theta"], problem(np.float64, 5 * BATCH)[4])
    assert got["counts"][C.STEP] == 0
    assert got["hyper"][C.LR] == 0.01


def _workers_in(env):
    script = "from fastnn._workers import fit_workers; print(fit_workers())"
    base = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    out = subprocess.run(
        [sys.executable, "-c", script], env={**base, **env}, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return int(out.stdout.strip())


def test_numba_thread_count_is_the_knob():
    assert _workers_in({"NUMBA_NUM_THREADS": "1"}) == 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert _workers_in({"NUMBA_NUM_THREADS": "2"}) == (2 if cpus >= 2 else 1)


def test_worker_1_starting_late_or_never_changes_nothing(monkeypatch):
    # Worker 0 takes worker 1's blocks and half-steps when worker 1 is not there yet.
    def late(fn, args):  # worker 1 starts only after worker 0 has finished
        return lambda: fn(*args)

    expected = run(kernels, np.float64, workers=1, **CASES["dropout"])
    monkeypatch.setattr(_workers, "start_helper", late)
    got = run(kernels, np.float64, workers=2, **CASES["dropout"])
    for name in expected:
        assert_array_equal(got[name], expected[name], err_msg=name)


def test_helper_threads_are_kept_between_calls():
    names = []
    for _ in range(3):
        _workers.start_helper(lambda: names.append(threading.current_thread()), ())()
    assert names[0] is names[1] is names[2]  # one thread served the three calls
    assert names[0] is not threading.current_thread()


def test_helper_errors_reach_the_caller():
    def fails():
        raise ZeroDivisionError("in the helper")

    with pytest.raises(ZeroDivisionError, match="in the helper"):
        _workers.start_helper(fails, ())()
    # The helper survives its error and serves the next call.
    assert _workers.start_helper(lambda: None, ())() is None


# --- Calls per fit -------------------------------------------------------------------


def _record_calls(monkeypatch):
    """The calls fits make from now on of the epoch drivers: ``(threads, n_epochs)``."""
    calls = []
    runner = _workers.epochs_runner

    def recording(*args, **kwargs):
        driver = runner(*args, **kwargs)
        threads = 1 if driver.__name__ == "on_one" else 2

        def recorded(*a):
            calls.append((threads, a[-1].shape[0]))  # n_epochs: the length of losses
            return driver(*a)

        return recorded

    monkeypatch.setattr(_workers, "epochs_runner", recording)
    return calls


def test_a_small_fit_runs_in_one_call_with_the_same_result(monkeypatch):
    from sklearn.datasets import make_classification

    from fastnn import MLPClassifier

    X, y = make_classification(300, 10, random_state=0)
    params = dict(hidden_layer_sizes=(16,), max_iter=6, tol=0.0, random_state=0)
    calls = _record_calls(monkeypatch)
    one_call = MLPClassifier(**params).fit(X, y)
    assert [n for _, n in calls] == [6]  # all six epochs in one compiled call
    calls.clear()
    # A callback brings the fit back to Python after every epoch: six calls, same bits.
    per_epoch = MLPClassifier(**params, callbacks=lambda model, info: False).fit(X, y)
    assert [n for _, n in calls] == [1] * 6
    for got, expected in zip(one_call.coefs_ + one_call.intercepts_,
                             per_epoch.coefs_ + per_epoch.intercepts_):  # fmt: skip
        assert_array_equal(got, expected)
    assert one_call.loss_curve_ == per_epoch.loss_curve_


def test_a_large_network_first_returns_after_one_epoch():
    wide = layer_sizes(2, (512, 512), 1)  # about 1.6 GFLOP per epoch of 10,000 rows
    assert _workers.first_call_epochs(wide, 10_000, 128) == 1
    digits = layer_sizes(64, (128, 64), 10)  # about 0.2 GFLOP per epoch
    assert 1 < _workers.first_call_epochs(digits, 1797, 32) < 100


def test_an_idle_helper_keeps_no_arrays_alive():
    import gc
    import weakref

    data = np.zeros(1000)
    ref = weakref.ref(data)
    _workers.start_helper(lambda a: a.sum(), (data,))()
    del data
    gc.collect()
    assert ref() is None  # the helper, now idle, dropped its reference to the call's data


def test_worker_choice_falls_back_to_one_worker_while_two_are_slower():
    from fastnn._workers import WorkerChoice

    choice = WorkerChoice()
    assert choice.next_workers() == 2
    choice.record(2, 100.0)  # the first call (it may have compiled): not counted
    assert choice.next_workers() == 2
    choice.record(2, 1.0)  # the usual time per mini-batch
    assert choice.next_workers() == 1  # the second call compares one worker
    choice.record(1, 1.2)  # slower: two again
    assert choice.next_workers() == 2
    choice.record(2, 1.4)  # within SLOWER of the usual
    assert choice.next_workers() == 2
    choice.record(2, 2.0)  # slower: try one worker
    assert choice.next_workers() == 1
    choice.record(1, 1.5)  # faster than two were: stay on one
    calls = [choice.next_workers() for _ in range(3)]
    assert calls == [1, 1, 2]  # every PROBE_EVERY-th call tries two again
    choice.record(2, 1.8)  # still slower than one
    assert [choice.next_workers() for _ in range(4)] == [1, 1, 1, 2]
    choice.record(2, 1.0)  # two are fast again
    assert [choice.next_workers() for _ in range(5)] == [2] * 5


def test_worker_choice_starting_slow_moves_to_one_worker():
    # A process that starts while two workers are slow: the second call's trial of one
    # worker finds it faster, and one stays until two measure faster again.
    from fastnn._workers import WorkerChoice

    choice = WorkerChoice()
    choice.record(2, 100.0)  # the first call: not counted
    choice.record(2, 3.0)  # slow from the start: no usual time to compare it with
    assert choice.next_workers() == 1
    choice.record(1, 1.5)
    assert [choice.next_workers() for _ in range(4)] == [1, 1, 1, 2]
    choice.record(2, 1.0)  # the vCPUs are close again
    assert [choice.next_workers() for _ in range(4)] == [2] * 4


def test_worker_choice_keeps_two_workers_when_one_is_no_faster():
    from fastnn._workers import WorkerChoice

    choice = WorkerChoice()
    choice.record(2, 100.0)  # the first call: not counted
    choice.record(2, 1.0)
    assert choice.next_workers() == 1
    choice.record(1, 1.2)
    choice.record(2, 2.0)  # slower: try one worker
    assert choice.next_workers() == 1
    choice.record(1, 3.0)  # no faster: the machine is slower, two stay
    assert choice.next_workers() == 2
    choice.record(2, 2.0)  # the new usual: no second trial
    assert [choice.next_workers() for _ in range(4)] == [2] * 4


@pytest.mark.skipif(fit_workers() < 2, reason="two workers need two CPUs and Numba threads")
def test_a_fit_runs_the_workers_its_choice_says_with_the_same_bits(monkeypatch):
    from fastnn import MLPClassifier
    from fastnn._workers import WorkerChoice

    rng = np.random.default_rng(0)
    X = rng.normal(size=(640, N_FEATURES))
    y = rng.integers(0, 3, 640)
    params = dict(hidden_layer_sizes=HIDDEN, batch_size=BATCH, max_iter=3, tol=0.0,
                  random_state=0)  # fmt: skip
    assert batch_parts(layer_sizes(N_FEATURES, HIDDEN, 3), BATCH) == 2

    class Recording(WorkerChoice):
        def record(self, workers, seconds_per_batch):
            self.recorded.append((workers, seconds_per_batch))
            super().record(workers, seconds_per_batch)

    ran = _record_calls(monkeypatch)  # the threads and epochs of each call
    results = {}
    for workers in (2, 1):
        choice = Recording()
        choice.workers, choice.recorded = workers, []
        monkeypatch.setattr(_workers, "worker_choice", lambda key, c=choice: c)
        ran.clear()
        results[workers] = MLPClassifier(**params).fit(X, y)
        assert ran == [(workers, 3)]  # one call, on the chosen workers
        assert [w for w, _ in choice.recorded] == [workers]
        assert choice.recorded[0][1] > 0  # seconds per mini-batch
    for got, expected in zip(results[1].coefs_ + results[1].intercepts_,
                             results[2].coefs_ + results[2].intercepts_):  # fmt: skip
        assert_array_equal(got, expected)
