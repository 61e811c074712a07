"""``fastnn.warmup`` compiles the kernels ahead of a fit, and nothing compiles at import."""

import os
import subprocess
import sys
import textwrap


def _run(script, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), PYTHONWARNINGS="ignore")
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.split()


def test_import_compiles_nothing_and_warmup_compiles_the_fit_kernels(tmp_path):
    script = """
        import fastnn
        from fastnn._workers import fit_workers
        from fastnn.kernels import dense, epoch, handover, sparse, split
        kernels_ = (epoch.run_epochs, dense.predict_rows, split.run_epochs, sparse.run_epochs,
                    sparse.predict_rows)
        before = sum(len(f.signatures) for f in kernels_)
        fastnn.warmup(dtypes=("float64",))
        after = [len(f.signatures) for f in kernels_]
        helpers = [len(f.signatures) for f in (epoch.helper, split.helper, sparse.helper)]
        inlined = (epoch._step, handover.end_batch, handover.start_epoch,
                   dense.forward_rows, dense.backward_rows)
        alone = sum(len(f.overloads) for f in inlined)
        apart = [len(f.overloads) for f in (epoch._update, epoch._block)]
        print(before, *after, fit_workers(), *helpers, alone, *apart)
    """
    out = map(int, _run(script, tmp_path))
    (before, rows, predict, units, sparse, sparse_predict, workers, helper, units_helper,
     sparse_helper, alone, update, block) = out  # fmt: skip
    assert before == 0
    assert rows >= 1 and predict >= 1
    assert units == 1  # the model-parallel kernel of wide networks
    assert sparse == sparse_predict == 1  # sparse input's
    # The second worker's kernels, even where it cannot run (a build machine may have
    # one CPU, and the package run on two).
    assert helper == units_helper == sparse_helper == 1
    # fastnn/_jit.py, INLINE: the big single-site helpers are typed inside their caller,
    # never compiled on their own (each level compiled apart re-optimises all it calls);
    # the helpers that are not inlined, _update and _block (shared by both workers),
    # were compiled apart.
    assert alone == 0
    assert update >= 1 and block >= 1
    # The compiled code went to the cache folder, for the next process to load.
    assert any(name.endswith(".nbi") for _, _, files in os.walk(tmp_path) for name in files)


def test_the_user_cache_lives_outside_the_package():
    # In-tree __pycache__ folders of .nbi/.nbc files outlive `pip uninstall` and then
    # shadow an editable install as a namespace package: fastnn saves elsewhere (the
    # package's own _compiled folder is only read, see test_cache.py).
    from fastnn import _jit, kernels
    from fastnn.kernels import epoch

    user_dir = _jit.STORE.user_dir
    for kernel in (epoch.run_epochs, kernels.predict, kernels.batch_loss_grad):
        path = kernel._cache._impl.locator.get_cache_path()
        assert os.path.commonpath([path, user_dir]) == user_dir
        assert not path.startswith(os.path.dirname(kernels.__file__))


def test_each_version_of_the_sources_has_its_own_cache(tmp_path):
    # Numba only checks a cached kernel against its own file: a kernel that reads a
    # constant from _codes.py would load stale code after _codes.py changed. The cache
    # folder is named after a digest of every source file.
    import shutil

    from fastnn import _cache, _jit

    package = os.path.dirname(os.path.abspath(_jit.__file__))
    assert os.path.basename(_jit.STORE.user_dir).startswith(_cache.source_digest(package))
    copy = tmp_path / "fastnn"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert _cache.source_digest(copy) == _cache.source_digest(package)
    with open(copy / "_codes.py", "a") as f:
        f.write("\n# a new slot\n")
    assert _cache.source_digest(copy) != _cache.source_digest(package)


def test_the_fastmath_setting_has_its_own_cache():
    # Numba keys cached code on the sources and the signature, not on the options: code
    # compiled with FASTNN_FASTMATH=1 must not be loaded without it, nor the reverse.
    script = "from fastnn import _jit; print(_jit.STORE.user_dir)"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    dirs = [
        subprocess.run(
            [sys.executable, "-c", script],
            env={**env, "FASTNN_FASTMATH": flag},
            capture_output=True,
            text=True,
            check=True,
        ).stdout  # fmt: skip
        for flag in ("0", "1")
    ]
    assert dirs[0] != dirs[1]
