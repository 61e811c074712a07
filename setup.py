"""Build hook: compile fastnn's kernels into the wheel.

pip has no post-install step, so ``pip install .`` compiles here, in the build: after
the sources are copied to the build folder, ``python -m fastnn._prebuild`` compiles
every kernel into ``fastnn/_compiled`` there, which goes into the wheel (see
``fastnn/_prebuild.py`` and ``fastnn/_cache.py``). An editable install
(``pip install -e .``) skips it, since its sources change under it: its kernels compile
on first use, once, into a per-user cache. So does a build with
``FASTNN_SHIPPED_KERNELS=0``.

If compiling fails, the wheel is built without machine code (it then compiles on first
use), and the build log says why (pip shows it with ``-v``); ``fastnn info`` tells which
a given install has.
"""

import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution


class BuildWithKernels(build_py):
    """``build_py``, then the kernels compiled into the build folder's package."""

    def run(self):
        super().run()
        build_lib = os.path.abspath(self.build_lib)
        dest = os.path.join(build_lib, "fastnn", "_compiled")
        # A build folder may hold an earlier build's kernels: never ship those.
        shutil.rmtree(dest, ignore_errors=True)
        if getattr(self, "editable_mode", False) or os.environ.get("FASTNN_SHIPPED_KERNELS") == "0":
            return
        # In the build folder, so that the copy of the package being built is compiled.
        argv = [sys.executable, "-m", "fastnn._prebuild", dest]
        result = subprocess.run(argv, cwd=build_lib)
        if result.returncode != 0:
            shutil.rmtree(dest, ignore_errors=True)
            print(
                f"fastnn: compiling the kernels failed (exit status {result.returncode}); "
                "the package is built without them and compiles them on first use",
                file=sys.stderr,
            )


class MachineCodeDistribution(Distribution):
    """The wheel holds machine code for one Python, platform and CPU: tag it so."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithKernels}, distclass=MachineCodeDistribution)
