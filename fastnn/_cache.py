"""Where fastnn's compiled kernels come from, and the checks that keep them right.

A Numba kernel compiles the first time it is called with new argument types, which
takes seconds for fastnn's epoch kernels. The machine code is kept on disk in two
folders, tried in this order before anything is compiled:

1. **shipped**: ``fastnn/_compiled/``, written when the package is built (``setup.py``
   runs :func:`fastnn._prebuild.build`), so that ``pip install .`` compiles once and a
   first fit after it does not. Read only. Used only if its ``manifest.json`` matches
   this process in everything that shapes machine code (:meth:`Store.environment`):
   fastnn's sources, Python, Numba, llvmlite, NumPy, the compile options, and the CPU
   (Numba's "magic tuple": target triple, CPU name, CPU features). Each file is used
   only if its SHA-256 is the one the manifest lists.
2. **user**: a folder under ``NUMBA_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/fastnn``
   or ``~/.cache/fastnn``, named after the same environment (:attr:`Store.user_dir`).
   Read, and written after each compile (under a file lock, so that processes that
   compile at once do not drop each other's entries).

Within each folder, Numba's own index checks what it always checks: its own version,
the SHA-256 of the function's source file, the CPU, the signature and the function's
bytecode. What does not match, or fails to read, is skipped: the kernel compiles
instead, with the same bits.

This is the one module that touches Numba's caching internals, which are private API:
``numba.core.caching`` (``FunctionCache``, ``CompileResultCacheImpl``,
``IndexDataCacheFile``, ``_CacheLocator``, ``_SourceFileBackedLocatorMixin``), a
dispatcher's ``_cache`` attribute, and ``codegen.magic_tuple()``.
``tests/test_cache.py`` fails loudly if a Numba upgrade changes them.
"""

import collections
import contextlib
import functools
import hashlib
import json
import os
import pathlib
import sys
import warnings

import llvmlite
import numba
import numpy as np
from numba.core import caching
from numba.core.dispatcher import Dispatcher

try:
    import fcntl
except ImportError:  # not on POSIX: saves go unlocked, as Numba's own do
    fcntl = None

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
SHIPPED_DIR = PACKAGE_DIR / "_compiled"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
# Set to "0" to ignore the shipped machine code (to measure a compile, say).
SHIPPED_SWITCH = "FASTNN_SHIPPED_KERNELS"


def source_digest(root=None):
    """A short SHA-256 of every ``.py`` file under ``root`` (names and contents); by
    default, of fastnn's package.

    Numba checks a cached function against its own source file only: a kernel whose
    file did not change, but which reads a constant or calls a function from a file
    that did, would load stale machine code. Every cache folder is named after (and
    every manifest records) this digest of all of them.
    """
    root = pathlib.Path(root or PACKAGE_DIR)
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _digest(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:8]


def _file_digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@functools.cache
def _source_stamp(path, mtime, size):
    """The SHA-256 of a source file's contents (memoised while it does not change).

    Numba 0.68 stamps its index so (``_hash_source_file``, numba PR #10659); earlier
    versions stamp the file's mtime and size, which an install changes: the shipped
    index would never match. fastnn stamps by contents whatever the Numba.
    """
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).digest()


def _short(value):
    """A manifest entry for a message: a target without its long feature string."""
    if isinstance(value, list) and len(value) == 3:  # (triple, CPU name, features)
        return f"{value[0]} {value[1]} (features {_digest(value[2])})"
    return repr(value)


def _user_root():
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fastnn")


class Store:
    """The compiled code of one process: where it is read and written, and where each
    kernel came from (:attr:`events`).

    Parameters
    ----------
    options : dict
        The compile options that change machine code and can change between processes
        (``fastmath``): part of the environment a cached kernel must match, since Numba
        does not key its cache on them.
    """

    def __init__(self, options):
        self.options = options
        self.sources = source_digest()
        self.shipped_dir = SHIPPED_DIR
        self.read_shipped = os.environ.get(SHIPPED_SWITCH, "1") != "0"
        self.user_dir = os.path.join(_user_root(), f"{self.sources}-{_digest(self.versions())}")
        self.events = []  # (kernel, "shipped", "user" or "compiled"), in order
        self.unsaved = None  # why compiled code could not be saved, if it could not
        self.skipped = []  # (origin, kernel, error) of cached code that failed to load
        self._shipped = None  # (usable, reason, manifest), once checked
        # Numba finds a function's folder through the locator classes of its cache's
        # "impl" class: one pair of classes per store.
        locator = type("Locator", (_Locator,), {"store": self})
        self.impl_class = type(
            "Impl", (caching.CompileResultCacheImpl,), {"_locator_classes": [locator]}
        )

    @property
    def loaded(self):
        """How many kernels were loaded from each folder (``"shipped"``, ``"user"``)."""
        return collections.Counter(where for _, where in self.events if where != "compiled")

    @property
    def compiled(self):
        """The names of the kernels compiled in this process."""
        return [name for name, where in self.events if where == "compiled"]

    def versions(self):
        """What shapes machine code besides the sources and the CPU."""
        return {
            "python": sys.implementation.cache_tag + getattr(sys, "abiflags", ""),
            "numba": numba.__version__,
            "llvmlite": llvmlite.__version__,
            "numpy": np.__version__,
            "options": self.options,
            # Numba's own settings that change machine code (the CPU's are in the target).
            "numba settings": {
                name: str(getattr(numba.config, name, None))
                for name in ("OPT", "BOUNDSCHECK", "DEBUGINFO_DEFAULT", "USING_SVML")
            },
        }

    def environment(self, codegen):
        """Everything a cached kernel must have been built for, with Numba's
        ``codegen`` (the CPU's magic tuple)."""
        return {"sources": self.sources, **self.versions(), "target": list(codegen.magic_tuple())}

    def attach(self, dispatcher):
        """Make ``dispatcher`` load from and save to this store (instead of
        ``cache=True``'s folder next to the sources). A plain function (what ``njit``
        returns under ``NUMBA_DISABLE_JIT=1``) has nothing to cache."""
        if isinstance(dispatcher, Dispatcher):
            dispatcher._cache = KernelCache(dispatcher.py_func, self)

    def shipped(self, codegen):
        """``(usable, reason, manifest)`` of the shipped folder, checked once."""
        if self._shipped is None:
            self._shipped = self._check_shipped(codegen)
        return self._shipped

    def _check_shipped(self, codegen):
        if not self.read_shipped:
            return False, f"ignored ({SHIPPED_SWITCH}=0)", None
        path = self.shipped_dir / MANIFEST
        if not path.exists():
            return False, "none shipped (a source or editable install)", None
        try:
            manifest = json.loads(path.read_text())
            built_for, files = manifest["environment"], manifest["files"]
            if manifest["format"] != MANIFEST_FORMAT:
                raise ValueError(f"format {manifest['format']!r}")
            if not (isinstance(files, dict) and isinstance(built_for, dict)):
                raise TypeError("its files or environment are not a mapping")
        except (OSError, ValueError, KeyError, TypeError) as error:
            return False, f"not used: unreadable manifest ({error!r})", None
        here = self.environment(codegen)
        differ = [key for key in here if built_for.get(key) != here[key]]
        if differ:
            what = "; ".join(
                f"{k} {_short(built_for.get(k))}, here {_short(here[k])}" for k in differ
            )
            return False, f"not used: built for other {', '.join(differ)} ({what})", manifest
        return True, "used", manifest

    def note_unsaved(self, error):
        """A save failed: warn once per process, and remember why."""
        if self.unsaved is None:
            self.unsaved = f"{self.user_dir}: {error}"
            warnings.warn(
                f"fastnn could not save compiled kernels to {self.unsaved}. They will "
                "compile again in the next process; set NUMBA_CACHE_DIR to a writable "
                "folder to keep them.",
                RuntimeWarning,
                stacklevel=2,
            )


class _Locator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """A kernel's folder in a store: the path of its source file's folder relative to
    the package (``kernels``), under the user folder; nothing is touched on disk until
    a save. Source stamps are the SHA-256 of the source file (:func:`_source_stamp`)."""

    store = None  # set on the subclass each Store makes

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        folder = pathlib.Path(py_file).resolve().parent
        if folder.is_relative_to(PACKAGE_DIR):
            self.relative = folder.relative_to(PACKAGE_DIR).as_posix()
        else:  # a function outside the package (a test's, say)
            self.relative = self.get_suitable_cache_subpath(py_file)

    def get_cache_path(self):
        return os.path.join(self.store.user_dir, self.relative)

    def get_source_stamp(self):
        st = os.stat(self._py_file)
        return _source_stamp(self._py_file, st.st_mtime, st.st_size)

    @classmethod
    def from_function(cls, py_func, py_file):
        return cls(py_func, py_file)


class _ShippedFile(caching.IndexDataCacheFile):
    """The shipped folder's index and data files of one kernel, read only, each checked
    against the SHA-256 its manifest lists before Numba unpickles it."""

    def __init__(self, cache_path, filename_base, source_stamp, files, shipped_dir):
        super().__init__(cache_path, filename_base, source_stamp)
        self._files = files
        self._shipped_dir = shipped_dir

    def _verify(self, path, relative):
        expected = self._files.get(relative)
        if expected is None:
            raise FileNotFoundError(f"{relative} is not in the manifest")
        if _file_digest(path) != expected:
            raise ValueError(f"{relative}: its SHA-256 differs from the manifest's")

    def _load_index(self):
        if not os.path.exists(self._index_path):
            return {}
        self._verify(self._index_path, self._relative(self._index_name))
        return super()._load_index()

    def _load_data(self, name):
        self._verify(self._data_path(name), self._relative(name))
        return super()._load_data(name)

    def _relative(self, name):
        path = os.path.join(self._cache_path, name)
        return os.path.relpath(path, self._shipped_dir).replace(os.sep, "/")

    def save(self, key, data):
        raise PermissionError("the shipped folder is read only")


class _UserFile(caching.IndexDataCacheFile):
    """The user folder's index and data files of one kernel: Numba's, except that a save
    over an unreadable index (a crash mid-write, a full disk) starts it afresh, where
    Numba's would fail on it at every save."""

    def save(self, key, data):
        try:
            self._load_index()
        except Exception:  # unpickling a damaged file raises anything
            self._save_index({})
        super().save(key, data)


class KernelCache(caching.FunctionCache):
    """Numba's per-function cache, reading the shipped folder, then the user's, and
    saving to the user's (see the module's docstring)."""

    def __init__(self, py_func, store):
        self._impl_class = store.impl_class
        # NUMBA_CACHE_LOCATOR_CLASSES would replace fastnn's locator: not for its kernels.
        previous = getattr(numba.config, "CACHE_LOCATOR_CLASSES", None)
        numba.config.CACHE_LOCATOR_CLASSES = ""
        try:
            super().__init__(py_func)
        finally:
            numba.config.CACHE_LOCATOR_CLASSES = previous
        self._cache_file = _UserFile(
            self._cache_path, self._impl.filename_base, self._impl.locator.get_source_stamp()
        )
        self._store = store
        self._shipped_file = None

    def _origins(self, codegen):
        usable, _, manifest = self._store.shipped(codegen)
        if usable:
            if self._shipped_file is None:
                folder = self._store.shipped_dir / self._impl.locator.relative
                self._shipped_file = _ShippedFile(
                    str(folder),
                    self._impl.filename_base,
                    self._impl.locator.get_source_stamp(),
                    manifest["files"],
                    str(self._store.shipped_dir),
                )
            yield "shipped", self._shipped_file
        yield "user", self._cache_file

    def load_overload(self, sig, target_context):
        target_context.refresh()
        if not self._enabled:
            return None
        codegen = target_context.codegen()
        key = self._index_key(sig, codegen)
        for origin, cache_file in self._origins(codegen):
            try:
                data = cache_file.load(key)
                if data is None:
                    continue
                cres = self._impl.rebuild(target_context, data)
            except Exception as error:  # unreadable or corrupt: the next origin, or compile
                self._store.skipped.append((origin, self._py_func.__qualname__, repr(error)))
                continue
            self._store.events.append((self._py_func.__qualname__, origin))
            return cres
        return None

    def save_overload(self, sig, data):
        self._store.events.append((self._py_func.__qualname__, "compiled"))
        try:
            with self._locked():
                super().save_overload(sig, data)
        except Exception as error:  # a read-only or full disk: the fit goes on
            self._store.note_unsaved(error)

    @contextlib.contextmanager
    def _locked(self):
        """Hold the folder's lock file: Numba's save reads the index, adds an entry and
        writes it back, so two processes saving at once would drop one entry."""
        path = self._impl.locator.get_cache_path()
        os.makedirs(path, exist_ok=True)
        if fcntl is None:
            yield
            return
        with open(os.path.join(path, ".lock"), "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX)
            except OSError:  # a file system without locks (some network mounts)
                yield
                return
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
