"""The numba engine allocates nothing per mini-batch or per epoch.

Numba's runtime counts its allocations when ``NUMBA_NRT_STATS=1`` is set before Numba is
imported, so the count is taken in a fresh process. Training for more epochs must not
allocate more, with one worker or two (mini-batches split in two blocks of rows, or
each layer's units split in two, ``fastnn/kernels/split.py``).
"""

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json
    import numpy as np
    from numba.core.runtime import rtsys
    from fastnn import _workers, kernels, layout, _codes as C
    from fastnn.kernels import epoch, sparse, split

    def epochs(n_epochs, n_samples=300, solver=C.ADAM, dropout=0.0, workers=1, units=False,
               sparse_input=False):
        rng = np.random.RandomState(0)
        # With two workers, batches and layers large enough to be split in two blocks.
        batch_size = 16 if workers == 1 else 128
        sizes = np.array([3, 8, 5, 2] if workers == 1 else [3, 64, 32, 2], dtype=np.int64)
        X = rng.randn(n_samples, 3)
        Y = np.eye(2)[rng.randint(0, 2, n_samples)]
        sw = np.ones(n_samples)
        theta = rng.randn(layout.n_params(sizes)) * 0.3
        grad = np.zeros_like(theta)
        state = np.zeros((C.MOMENTS[solver] + 1) * theta.size)
        s = C.new_scalars(2)
        hyper, counts = s
        hyper[C.LR] = hyper[C.LR_INIT] = hyper[C.RATE] = 0.01
        hyper[C.BETA_1], hyper[C.BETA_2], hyper[C.EPSILON] = 0.9, 0.999, 1e-8
        counts[C.BATCH_SIZE], counts[C.SHUFFLE], counts[C.MONITOR] = batch_size, 1, 1
        hyper[C.BEST], hyper[C.N_ITER_NO_CHANGE] = np.inf, 1e9
        hyper[C.DROPOUT], hyper[C.DROPOUT + 1] = dropout, dropout
        assert epoch.batch_parts(sizes, batch_size) == workers
        if units:  # the model-parallel kernel (kernels/split.py) on the same problem
            hyper[C.DROPOUT], hyper[C.DROPOUT + 1] = 0.0, 0.0
        codes = np.array([C.TANH, C.LOG_LOSS, solver], dtype=np.int64)
        work = np.zeros(layout.work_size(sizes, batch_size, sparse=sparse_input))
        if sparse_input:  # the CSR arrays of X, and the map of a batch's columns
            X[X < 0.5] = 0.0
            nz = X != 0
            X = (np.concatenate([[0], np.cumsum(nz.sum(axis=1))]).astype(np.int64),
                 np.nonzero(nz)[1].astype(np.int32), X[nz], np.full(6, -1, dtype=np.int64))
        rng_state = np.zeros(625, dtype=np.uint32)
        rng_state[:624] = np.random.RandomState(1).get_state()[1]
        rng_state[624] = 624
        idx = np.arange(n_samples, dtype=np.int64)
        losses = np.zeros(n_epochs)
        before = rtsys.get_allocation_stats().alloc
        scheme = split if units else sparse if sparse_input else epoch
        kernel = _workers.drivers(scheme.run_epochs, scheme.helper)[workers - 1]
        kernel((X, Y, sw, idx), (sizes, codes), (theta, grad, state), s, work, rng_state,
               losses)
        return rtsys.get_allocation_stats().alloc - before

    # The runtime (and its counters) starts at the first compiled call.
    kernels.penalty(np.zeros(1), np.array([1, 1], dtype=np.int64), 0.0, 1.0)
    result = {}
    for solver in (C.SGD, C.ADAM, C.RMSPROP, C.ADAMW):
        for dropout in (0.0, 0.2):
            for workers in (1, 2):
                kw = dict(solver=solver, dropout=dropout, workers=workers)
                epochs(1, **kw)  # compile outside the count
                result[f"{solver}-{dropout}-{workers}"] = [epochs(n, **kw) for n in (1, 10)]
        for workers in (1, 2):
            kw = dict(solver=solver, workers=workers, units=True)
            epochs(1, **kw)
            result[f"{solver}-units-{workers}"] = [epochs(n, **kw) for n in (1, 10)]
        for dropout in (0.0, 0.2):
            for workers in (1, 2):
                kw = dict(solver=solver, dropout=dropout, workers=workers, sparse_input=True)
                epochs(1, **kw)
                result[f"{solver}-{dropout}-sparse-{workers}"] = [epochs(n, **kw) for n in (1, 10)]
    print(json.dumps(result))
    """
)


# What a call may allocate: the runtime's wrapper (a MemInfo, no data) around each array
# handed from Python to compiled code. The drivers (fastnn/_workers.py) make the
# counters and sums with NumPy and pass them on as ``shared``: worker 0 takes 16 arrays
# (run_epochs' 14, in its tuples, ``scalars`` being two, and those two), and worker 1,
# with two workers, the same 16 (it takes worker 0's arguments, rng_state and losses
# included). The same for either scheme.
# The sparse kernels (fastnn/kernels/sparse.py) take three more arrays in ``X`` (19 each),
# and allocate per call the workspace table's layer sizes (worker 0) and a row of room
# for a zero gradient row (each worker).
PER_CALL = {1: 16, 2: 16 + 16, "units-1": 16, "units-2": 16 + 16, "sparse-1": 19 + 2,
            "sparse-2": 19 + 2 + 19 + 1}  # fmt: skip


def test_run_epochs_allocates_nothing_per_epoch():
    env = dict(os.environ, NUMBA_NRT_STATS="1")
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    for case, (one_epoch, ten_epochs) in counts.items():
        # 300 samples in batches of 16 (128 with two workers): 19 (3) batches per epoch,
        # ten times as many over ten epochs. The count must not grow with them.
        assert ten_epochs == one_epoch, case
        workers = case.rsplit("-", 1)[1]
        scheme = "units-" if "-units-" in case else "sparse-" if "-sparse-" in case else ""
        limit = PER_CALL[f"{scheme}{workers}"] if scheme else PER_CALL[int(workers)]
        assert one_epoch <= limit, case
