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
        from fastnn import kernels
        before = sum(len(f.signatures) for f in (kernels.run_epochs, kernels.predict))
        fastnn.warmup(dtypes=("float64",))
        after = sum(len(f.signatures) for f in (kernels.run_epochs, kernels.predict))
        print(before, after)
    """
    before, after = map(int, _run(script, tmp_path))
    assert before == 0
    assert after >= 2
    # The compiled code went to the cache folder, for the next process to load.
    assert any(name.endswith(".nbi") for _, _, files in os.walk(tmp_path) for name in files)


def test_the_cache_lives_outside_the_package():
    # In-tree __pycache__ folders of .nbi/.nbc files outlive `pip uninstall` and then
    # shadow an editable install as a namespace package: fastnn caches elsewhere.
    from fastnn import _jit, kernels

    for kernel in (kernels.run_epochs, kernels.predict, kernels.batch_loss_grad):
        path = kernel._cache._cache_path
        assert os.path.commonpath([path, _jit.CACHE_DIR]) == _jit.CACHE_DIR
        assert not path.startswith(os.path.dirname(kernels.__file__))
