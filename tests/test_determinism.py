"""Same random_state, same bits: across repeated fits, processes and thread counts.

Every configuration below (both estimators, both engines, both dtypes, every solver,
with dropout, early stopping and shuffling, which draw from the random state) is fitted
here and in fresh Python processes, and the SHA-256 of its ``coefs_`` and
``intercepts_`` must agree exactly: run to run, process to process, with
``NUMBA_NUM_THREADS`` of 1 or 2, and with ``OPENBLAS_NUM_THREADS`` of 1 or 2.

BLAS threads and bits: OpenBLAS splits the sum over a batch's rows (``A.T @ delta``)
between its threads, which changes the rounding. fastnn keeps BLAS on one thread
during a fit (``fastnn._blas_threads``), so every fit is bit-identical whatever
``OPENBLAS_NUM_THREADS`` or the machine's load says. A user who opts into more threads
(``FASTNN_BLAS_THREADS=2``) gets results that agree to a stated tolerance, not bit for
bit (see ``test_large_products_with_two_blas_threads``).
"""

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import make_classification
from threadpoolctl import threadpool_limits

from fastnn import MLPClassifier, MLPRegressor

# (estimator, solver, backend, dtype, extra parameters)
CONFIGS = [
    (estimator, solver, backend, dtype, extra)
    for backend in ("numba", "numpy")
    for dtype in ("float64", "float32")
    for estimator, solver, extra in [
        ("MLPClassifier", "sgd", {"dropout": 0.2}),
        ("MLPClassifier", "adam", {"early_stopping": True}),
        ("MLPRegressor", "rmsprop", {"batch_size": 7}),
        ("MLPRegressor", "adamw", {"learning_rate": "cosine"}),
        ("MLPClassifier", "lbfgs", {}),
    ]
]


def config_id(config):
    estimator, solver, backend, dtype, extra = config
    return "-".join([estimator[3:], solver, backend, dtype, *extra])


def data(estimator):
    X, y = make_classification(300, 6, n_informative=4, n_classes=3, random_state=0)
    return X, (y if estimator == "MLPClassifier" else y.astype(float))


def fit(estimator, solver, backend, dtype, extra):
    cls = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}[estimator]
    model = cls(
        hidden_layer_sizes=(16, 8),
        solver=solver,
        max_iter=12,
        random_state=3,
        backend=backend,
        dtype=dtype,
        **extra,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(*data(estimator))


def digest(model):
    h = hashlib.sha256()
    for W in model.coefs_ + model.intercepts_:
        h.update(np.ascontiguousarray(W).tobytes())
    return h.hexdigest()


def digests():
    return {config_id(c): digest(fit(*c)) for c in CONFIGS}


# A large problem: 2000 rows of 64 features into 128 units is 16M multiply-adds per
# product, above fastnn's one-thread limit, so BLAS may use its threads.
def large_fit(solver="lbfgs"):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, 64))
    y = (X[:, :3].sum(axis=1) > 0).astype(int)
    model = MLPClassifier((128,), solver=solver, max_iter=3, batch_size=2000, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    import test_determinism as t
    params = t.large_fit()
    np.save(sys.argv[1], np.concatenate([p.ravel() for p in params.coefs_ + params.intercepts_]))
    print(json.dumps(t.digests()))
    """
)

ENVIRONMENTS = {
    "numba-1": {"NUMBA_NUM_THREADS": "1"},
    "numba-2": {"NUMBA_NUM_THREADS": "2"},
    "openblas-1": {"OPENBLAS_NUM_THREADS": "1"},
    # FASTNN_BLAS_THREADS makes fastnn use both threads for the large problem whatever
    # the machine's load (fastnn's own choice depends on it).
    "openblas-2": {"OPENBLAS_NUM_THREADS": "2", "FASTNN_BLAS_THREADS": "2"},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each environment's digests and large-problem weights, from fresh processes run
    side by side."""
    script = SCRIPT.format(tests=os.path.dirname(os.path.abspath(__file__)))
    # Only the thread counts vary: other OpenBLAS settings (OPENBLAS_CORETYPE picks its
    # kernels, and so the bits of every product) stay as this process has them.
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NUMBA_NUM", "OPENBLAS_NUM", "FASTNN_BLAS"))
    }
    processes = {}
    for name, env in ENVIRONMENTS.items():
        path = tmp_path_factory.mktemp(name) / "large.npy"
        processes[name] = (
            path,
            subprocess.Popen(
                [sys.executable, "-c", script, str(path)],
                env={**base, "PYTHONWARNINGS": "ignore", **env},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
    results = {}
    for name, (path, process) in processes.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        results[name] = (json.loads(out.strip().splitlines()[-1]), np.load(path))
    return results


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_repeated_fits_are_bit_identical(config):
    assert digest(fit(*config)) == digest(fit(*config))


def test_bit_identical_across_processes(runs):
    here = digests()
    there, _ = runs["numba-1"]
    assert there == here


def test_bit_identical_for_numba_thread_counts(runs):
    # The epoch kernel runs a batch's two blocks of rows on two threads or on one, with
    # the same arithmetic either way (fastnn/kernels/epoch.py).
    assert runs["numba-1"][0] == runs["numba-2"][0]


def test_bit_identical_for_openblas_thread_counts(runs):
    assert runs["openblas-1"][0] == runs["openblas-2"][0]


def test_large_products_with_two_blas_threads(runs):
    # Two BLAS threads only when asked for (FASTNN_BLAS_THREADS=2): then not bit-identical.
    # Measured on this problem after three lbfgs iterations, 1.9e-16 absolute and 3.2e-13
    # relative (the largest relative differences are on weights near zero). L-BFGS
    # amplifies such differences about tenfold every few iterations, hence the margin.
    got = runs["openblas-2"][1]
    expected = runs["openblas-1"][1]
    assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_large_fit_does_not_depend_on_the_load_average(solver, monkeypatch):
    with threadpool_limits(limits=2, user_api="blas"):  # lift the suite's one-thread limit
        monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
        idle = digest(large_fit(solver))
        monkeypatch.setattr(os, "getloadavg", lambda: (100.0, 100.0, 100.0))
        busy = digest(large_fit(solver))
    assert idle == busy


def _fits(est, random_states):
    """Fit ``est`` with each ``random_state`` in turn; the generators it left."""
    X, y = make_classification(200, 5, random_state=0)
    generators = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached
        for random_state in random_states:
            est.set_params(random_state=random_state).fit(X, y)
            generators.append(est._random_state)
    return generators


def test_a_seed_starts_every_fit_afresh():
    """With an int ``random_state`` each fit starts from the seed, as scikit-learn's new
    ``RandomState(seed)`` does: fastnn seeds the generator it made again (the same
    object, not a new one), so a refit equals a first fit, weights and stream."""
    est, fresh = MLPClassifier((8,), max_iter=3), MLPClassifier((8,), max_iter=3)
    first, second = _fits(est, [4, 4])
    _fits(fresh, [4])
    assert second is first
    for got, want in zip(est.coefs_ + est.intercepts_, fresh.coefs_ + fresh.intercepts_):
        assert np.array_equal(got, want)
    (_, key, pos, *_), (_, want_key, want_pos, *_) = (
        g.get_state() for g in (est._random_state, fresh._random_state)
    )
    assert pos == want_pos and np.array_equal(key, want_key)


def test_a_generator_passed_in_is_never_seeded_again():
    """A ``RandomState`` passed in is the caller's: a later fit with an int seed makes
    fastnn a generator of its own and leaves the caller's where it was."""
    caller = np.random.RandomState(1)
    est = MLPClassifier((8,), max_iter=3)
    _fits(est, [caller])
    _, left, pos = caller.get_state()[:3]
    (own,) = _fits(est, [4])
    assert own is not caller
    _, now, now_pos = caller.get_state()[:3]
    assert now_pos == pos and np.array_equal(now, left)


@pytest.mark.parametrize("seed", [0, 4, 2**32 - 1, np.int64(7)], ids=str)
def test_a_new_generator_from_a_seed_is_numpys(seed):
    """fastnn's first generator for a seed starts where ``RandomState(seed)`` does."""
    from fastnn._random import generator as _generator

    est = MLPClassifier(random_state=seed)
    (_, key, pos, has_gauss, gauss), want = (
        g.get_state() for g in (_generator(est), np.random.RandomState(seed))
    )
    assert (pos, has_gauss, gauss) == want[2:]
    assert np.array_equal(key, want[1])


def test_a_shallow_copy_seeds_a_generator_of_its_own():
    """``copy.copy`` of a fitted model shares its attributes: the copy's next fit makes
    a generator of its own rather than seed the original's, so that the two may train
    in two threads at once."""
    import copy

    est = MLPClassifier((8,), max_iter=3)
    (own,) = _fits(est, [4])
    twin = copy.copy(est)
    (theirs,) = _fits(twin, [4])
    assert theirs is not own and est._random_state is own
    (again,) = _fits(est, [4])
    assert again is own


def _stream_after(est, random_state):
    """Fit ``est`` with ``random_state``: its weights, and the key and position of the
    generator it trained with, after the fit."""
    (made,) = _fits(est, [random_state])
    _, key, pos = made.get_state()[:3]
    return est.coefs_ + est.intercepts_, key, pos


def _assert_same_fit(got, want):
    (weights, key, pos), (want_weights, want_key, want_pos) = got, want
    assert pos == want_pos and np.array_equal(key, want_key)
    for a, b in zip(weights, want_weights):
        assert np.array_equal(a, b)


def test_numpy_keeps_the_state_where_the_kernels_read_it():
    """The kernels read and move on the state of a generator fastnn made in that
    generator's own memory (fastnn/_random.py), which holds while NumPy lays an
    MT19937's state out as the key's 624 words and then the position. If this fails,
    fastnn still trains alike, through get_state and set_state, but each fit pays
    their 50 us again."""
    from fastnn import _random

    assert _random._layout_holds()


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_the_kernels_move_the_models_own_generator_on_in_place(backend, monkeypatch):
    """With an int seed, the kernels shuffle with the generator's own memory: no
    get_state nor set_state at a refit, and the weights and the stream afterwards
    are those of a fit given ``RandomState(seed)``, which goes through the copies."""
    from fastnn._random import SeededGenerator

    est = MLPClassifier((8,), max_iter=3, backend=backend)
    want = _stream_after(MLPClassifier((8,), max_iter=3, backend=backend), np.random.RandomState(4))
    _fits(est, [4])

    def refused(self, *args, **kwargs):
        raise AssertionError("the state was copied")

    monkeypatch.setattr(SeededGenerator, "get_state", refused, raising=False)
    monkeypatch.setattr(SeededGenerator, "set_state", refused, raising=False)
    (made,) = _fits(est, [4])
    monkeypatch.undo()
    _, key, pos = made.get_state()[:3]
    _assert_same_fit((est.coefs_ + est.intercepts_, key, pos), want)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_another_state_layout_falls_back_on_copies(backend, monkeypatch):
    """Where NumPy kept the state otherwise, a generator fastnn made is copied in and
    out as any other, with the same weights and stream."""
    from fastnn import _random

    want = _stream_after(MLPClassifier((8,), max_iter=3, backend=backend), 4)
    monkeypatch.setattr(_random, "_layout_holds", lambda: False)
    est = MLPClassifier((8,), max_iter=3, backend=backend)
    got = _stream_after(est, 4)
    assert est._random_state.state_view() is None
    _assert_same_fit(got, want)
