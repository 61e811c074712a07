"""Compiled kernels shipped with the package, and the user's cache (fastnn/_cache.py).

The package is built as ``pip install .`` builds it, once for this module: setup.py's
``build_py`` copies it to a build folder and compiles every kernel into its
``_compiled`` folder. Each test then "installs" a copy of that build (with new file
times, as pip's copy has), as it is or spoiled in one way, runs first fits on it in a
new process with an empty user cache, and checks where every kernel came from
(tests/first_fit.py prints it) and that the results have the same bits as this
process's fits of the same settings.
"""

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile

import pytest
from first_fit import run

import fastnn
from fastnn import _cache

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
PACKAGE = os.path.dirname(os.path.abspath(fastnn.__file__))


def _copy_package(dest):
    shutil.copytree(
        PACKAGE, os.path.join(dest, "fastnn"), ignore=shutil.ignore_patterns("__pycache__")
    )
    return dest


def _build(build_lib, **env):
    """setup.py's ``build_py`` (the build step of ``pip install .``) into ``build_lib``."""
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", build_lib],
        cwd=REPO, env=dict(os.environ, **env), check=True, capture_output=True,
    )  # fmt: skip
    return build_lib


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The package as the build of ``pip install .`` leaves it, kernels compiled in."""
    return _build(str(tmp_path_factory.mktemp("build")))


@pytest.fixture(scope="module")
def built_elsewhere(tmp_path_factory):
    """The float64 kernels a machine of another CPU would ship: built for Numba's
    "generic" CPU, so that the index keys name it, as does the manifest."""
    root = _copy_package(str(tmp_path_factory.mktemp("elsewhere")))
    compiled = os.path.join(root, "fastnn", "_compiled")
    subprocess.run(
        [sys.executable, "-m", "fastnn._prebuild", compiled, "float64"],
        cwd=root, env=dict(os.environ, PYTHONPATH=root, NUMBA_CPU_NAME="generic"),
        check=True, capture_output=True,
    )  # fmt: skip
    return compiled


def _install(built):
    """A fresh copy of the built package, with an empty user cache beside it. Its files
    have new times, as an install's have: Numba before 0.68 stamped an index with its
    source file's mtime."""
    root = tempfile.mkdtemp()
    shutil.copytree(
        os.path.join(built, "fastnn"), os.path.join(root, "fastnn"), copy_function=shutil.copyfile
    )
    os.makedirs(os.path.join(root, "user-cache"))
    return root


@pytest.fixture
def install(built):
    root = _install(built)
    yield root
    for folder, _, _ in os.walk(root):
        os.chmod(folder, 0o755)
    shutil.rmtree(root)


@pytest.fixture(scope="module")
def shared_user_cache(tmp_path_factory):
    """One user cache for the tests whose shipped code is spoiled: the first compiles
    the kernels it may not load, the others load them from there (not from the shipped
    folder either way), which keeps the module's compiling short."""
    return str(tmp_path_factory.mktemp("user-cache"))


@pytest.fixture(scope="module")
def expected():
    """This process's results: compiled here (or loaded from this user's cache)."""
    return run(["xor", "every_setting"])


def _first_fits(install, *names, env=None, as_reader=False):
    environ = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([install, TESTS]),
        NUMBA_CACHE_DIR=os.path.join(install, "user-cache"),
        PYTHONWARNINGS="ignore::DeprecationWarning",
    )
    environ.pop(_cache.SHIPPED_SWITCH, None)
    environ.update(env or {})
    argv = [sys.executable, os.path.join(TESTS, "first_fit.py"), *names]
    if as_reader:
        argv.append("--as-reader")
    out = subprocess.run(argv, env=environ, capture_output=True, text=True, cwd=install)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def _compiled_folder(install):
    return os.path.join(install, "fastnn", "_compiled")


def _manifest(install):
    with open(os.path.join(_compiled_folder(install), _cache.MANIFEST)) as f:
        return json.load(f)


def _write_manifest(install, manifest):
    with open(os.path.join(_compiled_folder(install), _cache.MANIFEST), "w") as f:
        json.dump(manifest, f)


def _origins(got, kernel):
    """Where the kernel named ``kernel`` (``run_epochs``) came from in that process: one
    place at least."""
    origins = {where for name, where in got["events"] if name == kernel}
    assert origins, f"{kernel} was neither loaded nor compiled"
    return origins


def _kernel_files(install, name, suffix):
    """The shipped files of the kernel ``kernels/NAME`` (``epoch.run_epochs``)."""
    folder = os.path.join(_compiled_folder(install), "kernels")
    return sorted(
        os.path.join(folder, f)
        for f in os.listdir(folder)
        if f.startswith(name + "-") and f.endswith(suffix)
    )


def test_after_the_build_no_setting_compiles(install, expected):
    got = _first_fits(install, "xor", "every_setting")
    assert got["shipped"] == "used"
    assert got["compiled"] == [] and got["numba_compiled"] == []
    assert got["skipped"] == []
    assert got["loaded"]["shipped"] >= 13 and "user" not in got["loaded"]
    assert got["results"] == expected


def test_numbas_locator_setting_does_not_redirect_fastnns_kernels(install, expected):
    got = _first_fits(install, "xor", env={"NUMBA_CACHE_LOCATOR_CLASSES": "UserWideCacheLocator"})
    assert got["compiled"] == [] and _origins(got, "run_epochs") == {"shipped"}
    assert got["results"]["xor"] == expected["xor"]


def test_a_build_folder_never_ships_an_earlier_builds_kernels(tmp_path):
    # Built once with kernels, then again into the same folder with the switch off.
    build_lib = str(tmp_path / "lib")
    os.makedirs(os.path.join(build_lib, "fastnn", "_compiled", "kernels"))
    open(os.path.join(build_lib, "fastnn", "_compiled", _cache.MANIFEST), "w").close()
    _build(build_lib, **{_cache.SHIPPED_SWITCH: "0"})
    assert os.path.exists(os.path.join(build_lib, "fastnn", "_cache.py"))
    assert not os.path.exists(os.path.join(build_lib, "fastnn", "_compiled"))


def test_the_build_covers_both_dtypes_and_every_kernel(built):
    manifest = json.load(open(os.path.join(built, "fastnn", "_compiled", _cache.MANIFEST)))
    assert manifest["dtypes"] == ["float64", "float32"]
    names = {path.split("-")[0] for path in manifest["files"]}
    for kernel in ("epoch.run_epochs", "epoch.helper", "epoch.batch_parts", "split.run_epochs",
                   "split.helper", "dense.predict_rows", "dense.batch_loss_grad"):  # fmt: skip
        assert f"kernels/{kernel}" in names


def _spoil_cpu(install, elsewhere):
    """The code a machine of another CPU ships (:func:`built_elsewhere`)."""
    compiled = _compiled_folder(install)
    shutil.rmtree(compiled)
    shutil.copytree(elsewhere, compiled)


def _spoil_cpu_unnoticed(install, elsewhere):
    """As above, but its manifest names this CPU: Numba's own index keys still refuse
    code built for another."""
    here = _manifest(install)["environment"]["target"]
    _spoil_cpu(install, elsewhere)
    manifest = _manifest(install)
    manifest["environment"]["target"] = here
    _write_manifest(install, manifest)


def _spoil_numba(install, elsewhere):
    """What another Numba version writes: its version in the index files and in the
    manifest."""
    manifest = _manifest(install)
    manifest["environment"]["numba"] = "0.67.0"
    for index in _kernel_files(install, "epoch.run_epochs", ".nbi"):
        with open(index, "rb") as f:
            pickle.load(f)
            rest = f.read()
        with open(index, "wb") as f:
            pickle.dump("0.67.0", f, protocol=-1)
            f.write(rest)
        relative = os.path.relpath(index, _compiled_folder(install)).replace(os.sep, "/")
        manifest["files"][relative] = _cache._file_digest(index)
    _write_manifest(install, manifest)


def _spoil_numba_unnoticed(install, elsewhere):
    """As above, but the manifest names this Numba (and lists the files' new SHA-256):
    Numba's own version check still refuses the index."""
    version = _manifest(install)["environment"]["numba"]
    _spoil_numba(install, elsewhere)
    manifest = _manifest(install)
    manifest["environment"]["numba"] = version
    _write_manifest(install, manifest)


def _spoil_llvmlite(install, elsewhere):
    manifest = _manifest(install)
    manifest["environment"]["llvmlite"] = "0.49.0"
    _write_manifest(install, manifest)


def _spoil_sources(install, elsewhere):
    """A source file edited after the build (not one of the kernels' own files)."""
    with open(os.path.join(install, "fastnn", "_codes.py"), "a") as f:
        f.write("\n# edited after the build\n")


@pytest.mark.parametrize(
    "spoil, reason",
    [
        (_spoil_cpu, "not used: built for other target"),
        (_spoil_cpu_unnoticed, "used"),
        (_spoil_numba, "not used: built for other numba"),
        (_spoil_numba_unnoticed, "used"),
        (_spoil_llvmlite, "not used: built for other llvmlite"),
        (_spoil_sources, "not used: built for other sources"),
    ],
)
def test_code_built_for_another_machine_or_sources_is_never_loaded(
    install, built_elsewhere, shared_user_cache, expected, spoil, reason
):
    spoil(install, built_elsewhere)
    got = _first_fits(install, "xor", env={"NUMBA_CACHE_DIR": shared_user_cache})
    assert got["shipped"].startswith(reason)
    if reason != "used":  # the manifest refused the whole folder
        assert "shipped" not in got["loaded"]
    # Compiled afresh (or loaded from the user cache, where another test compiled it),
    # with the same bits.
    assert _origins(got, "run_epochs") <= {"compiled", "user"}
    assert got["results"]["xor"] == expected["xor"]


def _remove_data(install):
    for path in _kernel_files(install, "epoch.run_epochs", ".nbc"):
        os.remove(path)


def _garble_data(install):
    for path in _kernel_files(install, "epoch.run_epochs", ".nbc"):
        with open(path, "r+b") as f:
            f.seek(os.path.getsize(path) // 2)
            f.write(b"\x00" * 64)


def _truncate_index(install):
    for path in _kernel_files(install, "epoch.run_epochs", ".nbi"):
        with open(path, "r+b") as f:
            f.truncate(10)


def _garble_manifest(install):
    with open(os.path.join(_compiled_folder(install), _cache.MANIFEST), "w") as f:
        f.write("{not json")


@pytest.mark.parametrize(
    "spoil, skipped",
    [
        (_remove_data, False),
        (_garble_data, True),
        (_truncate_index, True),
        (_garble_manifest, False),
    ],
)
def test_a_missing_or_corrupt_file_is_never_loaded(
    install, shared_user_cache, expected, spoil, skipped
):
    spoil(install)
    got = _first_fits(install, "xor", env={"NUMBA_CACHE_DIR": shared_user_cache})
    assert _origins(got, "run_epochs") <= {"compiled", "user"}
    # A corrupt file is reported (its SHA-256 differs from the manifest's); a missing
    # one is a plain miss; prediction's kernel still comes from the shipped folder,
    # unless the manifest itself is unreadable.
    reasons = [error for _, kernel, error in got["skipped"] if kernel == "run_epochs"]
    assert bool(reasons) == skipped
    assert all("SHA-256 differs from the manifest" in error for error in reasons)
    if spoil is _garble_manifest:
        assert got["shipped"].startswith("not used: unreadable manifest")
    else:
        assert _origins(got, "predict_rows") == {"shipped"}
    assert got["results"]["xor"] == expected["xor"]


def _read_only(install):
    for folder, _, files in os.walk(os.path.join(install, "fastnn")):
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
        os.chmod(folder, 0o555)


def _listing(folder):
    return sorted(
        (os.path.relpath(os.path.join(d, f), folder), os.path.getmtime(os.path.join(d, f)))
        for d, _, files in os.walk(folder)
        for f in files
        if "__pycache__" not in d
    )


def test_a_read_only_install_loads_its_kernels(install, expected):
    before = _listing(os.path.join(install, "fastnn"))
    _read_only(install)
    got = _first_fits(install, "xor", as_reader=os.geteuid() == 0)
    assert not got["package_writable"]
    assert got["shipped"] == "used" and got["compiled"] == []
    assert got["results"]["xor"] == expected["xor"]
    assert _listing(os.path.join(install, "fastnn")) == before


def test_an_unwritable_user_cache_compiles_warns_and_fits(install, expected):
    # No shipped code, and a user cache that cannot be created (a file is in the way):
    # the kernels compile in memory, a warning says they could not be saved.
    in_the_way = os.path.join(install, "a-file")
    open(in_the_way, "w").close()
    env = {_cache.SHIPPED_SWITCH: "0", "NUMBA_CACHE_DIR": os.path.join(in_the_way, "cache")}
    got = _first_fits(install, "xor", env=env)
    assert got["shipped"].startswith("ignored")
    assert "run_epochs" in got["compiled"]
    assert got["unsaved"]
    assert len([w for w in got["warnings"] if "could not save compiled kernels" in w]) == 1
    assert got["results"]["xor"] == expected["xor"]


def test_the_user_cache_serves_the_next_process(install, expected):
    env = {_cache.SHIPPED_SWITCH: "0"}
    first = _first_fits(install, "xor", env=env)
    second = _first_fits(install, "xor", env=env)
    assert "run_epochs" in first["compiled"]
    assert second["compiled"] == [] and _origins(second, "run_epochs") == {"user"}
    assert first["results"] == second["results"] == {"xor": expected["xor"]}
    assert first["user_dir"].startswith(os.path.join(install, "user-cache"))
    # A corrupt file there, data or index, is skipped, compiled again and written over.
    for suffix in (".nbc", ".nbi"):
        for folder, _, files in os.walk(first["user_dir"]):
            for name in files:
                if name.startswith("epoch.run_epochs-") and name.endswith(suffix):
                    with open(os.path.join(folder, name), "r+b") as f:
                        f.truncate(10)
        third = _first_fits(install, "xor", env=env)
        fourth = _first_fits(install, "xor", env=env)
        assert [s for s in third["skipped"] if s[1] == "run_epochs"], suffix
        assert "run_epochs" in third["compiled"] and third["unsaved"] is None, suffix
        assert _origins(fourth, "run_epochs") == {"user"}, suffix
        assert third["results"] == fourth["results"] == {"xor": expected["xor"]}


def test_numbas_private_caching_api_is_what_fastnn_cache_relies_on():
    # fastnn/_cache.py subclasses and calls these; a Numba upgrade that renames or
    # reshapes them must fail here, by name, before it silently stops loading shipped code.
    import inspect

    from numba.core import caching, codegen, dispatcher

    for name in ("FunctionCache", "CompileResultCacheImpl", "IndexDataCacheFile",
                 "_CacheLocator", "_SourceFileBackedLocatorMixin"):  # fmt: skip
        assert hasattr(caching, name), f"numba.core.caching.{name} is gone"
    assert isinstance(caching.CompileResultCacheImpl._locator_classes, list)
    init = inspect.signature(caching.IndexDataCacheFile.__init__).parameters
    assert list(init) == ["self", "cache_path", "filename_base", "source_stamp"]
    for method in ("_load_index", "_load_data", "_data_path", "load", "save"):
        assert callable(getattr(caching.IndexDataCacheFile, method)), method
    for method in ("_index_key", "load_overload", "save_overload"):
        assert callable(getattr(caching.Cache, method)), method
    compile_source = inspect.getsource(dispatcher.Dispatcher.compile)
    assert "self._cache.load_overload(" in compile_source
    assert "self._cache.save_overload(" in compile_source
    assert callable(codegen.JITCPUCodegen.magic_tuple)
    # And in use: the kernels carry fastnn's cache, whose folder is the store's.
    from fastnn import _jit
    from fastnn.kernels import epoch

    assert isinstance(epoch.run_epochs._cache, _cache.KernelCache)
    path = epoch.run_epochs._cache._impl.locator.get_cache_path()
    assert path == os.path.join(_jit.STORE.user_dir, "kernels")


def test_a_save_waits_for_the_folders_lock(tmp_path):
    # Numba's save reads the index, adds an entry and writes it back: two processes
    # saving at once would drop an entry. A save holds the folder's lock file; here the
    # test holds it, and a save in another thread must wait for it.
    import fcntl
    import threading

    from numba.core.registry import cpu_target

    from fastnn._jit import jit

    store = _cache.Store(options={"test": True})
    store.user_dir = str(tmp_path / "store")

    @jit(cache=False)
    def twice(x):
        return 2 * x

    twice(1.0)  # compiled with no cache; then the store's, for the save below
    store.attach(twice)
    cres = next(iter(twice.overloads.values()))
    folder = twice._cache._impl.locator.get_cache_path()
    os.makedirs(folder, exist_ok=True)
    saver = threading.Thread(target=twice._cache.save_overload, args=(cres.signature, cres))
    with open(os.path.join(folder, ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saver.start()
        saver.join(0.5)
        waited = saver.is_alive()
        assert not any(name.endswith(".nbi") for name in os.listdir(folder))
        fcntl.flock(lock, fcntl.LOCK_UN)
    saver.join()
    assert waited
    assert store.events == [("test_a_save_waits_for_the_folders_lock.<locals>.twice", "compiled")]
    assert twice._cache.load_overload(cres.signature, cpu_target.target_context) is not None
