"""Compile the kernels that ship with the package, when it is built.

pip has no post-install step, so ``pip install .`` compiles in the build: ``setup.py``
runs ``python -m fastnn._prebuild DEST`` on the copy of the package that goes into the
wheel, and DEST (``fastnn/_compiled``) goes into the wheel with it. The first fit after
the install then loads machine code instead of compiling it (see :mod:`fastnn._cache`).

:func:`build` runs :func:`fastnn.warmup` for each dtype in a process of its own, at
the same time (a process compiles on one core: Numba holds a global lock while it
compiles), each saving into one empty cache folder. It then moves that folder's files
to DEST and writes ``manifest.json``: the environment they were built for and each
file's SHA-256, which a loading process checks.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

from fastnn import _cache

DTYPES = ("float64", "float32")


def build(dest, dtypes=DTYPES):
    """Compile every kernel variant for ``dtypes`` into the folder ``dest``, emptied
    first, and write its manifest.

    Parameters
    ----------
    dest : str or path
        The folder to fill: ``fastnn/_compiled`` of the package being built.
    dtypes : sequence of {'float64', 'float32'}, default=('float64', 'float32')

    Returns
    -------
    dict
        The manifest written.
    """
    from numba.core.registry import cpu_target

    from fastnn import _jit

    dest = os.path.abspath(dest)
    shutil.rmtree(dest, ignore_errors=True)
    package_parent = str(_cache.PACKAGE_DIR.parent)
    with tempfile.TemporaryDirectory() as root:
        env = dict(
            os.environ,
            NUMBA_CACHE_DIR=root,
            PYTHONPATH=os.pathsep.join(
                filter(None, [package_parent, os.environ.get("PYTHONPATH")])
            ),
            PYTHONWARNINGS="ignore",
            **{_cache.SHIPPED_SWITCH: "0"},
        )
        script = "import sys, fastnn; fastnn.warmup(dtypes=sys.argv[1:])"
        workers = [
            subprocess.Popen([sys.executable, "-c", script, dtype], env=env, cwd=root)
            for dtype in dtypes
        ]
        failed = [dtype for dtype, p in zip(dtypes, workers) if p.wait() != 0]
        if failed:
            raise RuntimeError(f"compiling the kernels for {', '.join(failed)} failed")
        folder = os.path.join(root, os.path.basename(_jit.STORE.user_dir))
        if not os.path.isdir(folder):
            raise RuntimeError(f"the compiled kernels are not in {folder}: {os.listdir(root)}")
        files = {}
        for path in sorted(pathlib.Path(folder).rglob("*")):
            if path.is_file() and path.suffix in (".nbi", ".nbc"):
                relative = path.relative_to(folder).as_posix()
                target = os.path.join(dest, relative)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.move(str(path), target)
                files[relative] = _cache._file_digest(target)
    manifest = {
        "format": _cache.MANIFEST_FORMAT,
        "built": time.time(),
        "dtypes": list(dtypes),
        "environment": _jit.STORE.environment(cpu_target.target_context.codegen()),
        "files": files,
    }
    with open(os.path.join(dest, _cache.MANIFEST), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    return manifest


if __name__ == "__main__":
    started = time.perf_counter()
    written = build(sys.argv[1], sys.argv[2:] or DTYPES)
    print(
        f"fastnn: compiled {len(written['files'])} kernel files into {sys.argv[1]} in "
        f"{time.perf_counter() - started:.0f} s"
    )
