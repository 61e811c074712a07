"""The ``fastnn`` command line: ``fastnn train`` and ``fastnn info``.

Each subcommand is one ``_add_<name>`` function that registers its options and sets
``run`` to the function carrying it out, so a new subcommand (``predict``) or option
(``--dropout``, ``--save``, ``--plot``) is added in one place. ``train`` is a pipeline of
small steps: :func:`_load` the data, :func:`_split` it, fit the :func:`_scaling` on the
train set, :func:`_fit` the model epoch by epoch and :func:`_report` the scores. It ends
holding a :class:`Trained` model (network and scaling), ready to be saved or plotted.

User errors (a missing file, an unknown dataset, a bad option) print one line starting
with ``fastnn: error:`` to stderr and give exit status 2, never a traceback.
"""

import argparse
import contextlib
import math
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import type_of_target

from fastnn import datasets

PROG = "fastnn"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A mistake of the user's, reported as one line without a traceback."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors raised (one line in :func:`main`) instead of printed."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


# --- option types: each turns one string into a value, or says what is wrong -----------


def _hidden(text):
    """``'64,64'`` -> ``(64, 64)``."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive layer sizes such as 64,64; got {text!r}"
        )
    return sizes


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def _batch_size(text):
    return "auto" if text == "auto" else _positive_int(text)


def _float(text, low, inclusive, what):
    """A finite number above ``low`` (or equal to it, if ``inclusive``)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and (value >= low if inclusive else value > low)):
        raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
    return value


def _positive_float(text):
    return _float(text, 0.0, False, "a positive number")


def _non_negative_float(text):
    return _float(text, 0.0, True, "a number >= 0")


def _fraction(text):
    """A share of the data in ``[0, 1)``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1); got {text!r}")
    return value


# --- the parser ----------------------------------------------------------------------


def build_parser():
    """The ``fastnn`` argument parser, one subparser per subcommand."""
    parser = _Parser(prog=PROG, description="Fast multi-layer perceptrons on the CPU.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_train(commands)
    _add_info(commands)
    return parser


def _add_train(commands):
    p = commands.add_parser(
        "train",
        help="train a network on a dataset or a CSV file and print its scores",
        description=(
            "Split the data into train and test sets (stratified for classification), "
            "standardise the features on the train set, train for --epochs epochs and "
            "print train and test accuracy (R² for regression) and the speed."
        ),
    )
    data = p.add_argument_group("data")
    source = data.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--dataset",
        choices=datasets.NAMES,
        metavar="NAME",
        help=f"a built-in dataset: {', '.join(datasets.NAMES)}",
    )
    source.add_argument("--csv", metavar="FILE", help="a CSV file with a header row")
    data.add_argument("--target", metavar="COL", help="with --csv: target column name or index")
    data.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="default: regression for diabetes and for real-valued CSV targets",
    )
    data.add_argument(
        "--n-samples", type=_positive_int, metavar="N", help="sample count (subsample if bundled)"
    )
    data.add_argument(
        "--noise", type=_non_negative_float, metavar="STD", help="noise of a generated dataset"
    )
    data.add_argument(
        "--test-size",
        type=_fraction,
        default=0.25,
        metavar="F",
        help="held-out share (default: 0.25)",
    )
    data.add_argument(
        "--validation-fraction",
        type=_fraction,
        metavar="F",
        default=0.0,
        help="share of the train set scored after each epoch (default: 0, none)",
    )

    model = p.add_argument_group("model")
    model.add_argument(
        "--hidden",
        type=_hidden,
        default=(64, 64),
        metavar="SIZES",
        help="hidden layer sizes (default: 64,64)",
    )
    model.add_argument(
        "--activation", choices=("relu", "tanh", "logistic", "identity"), default="relu"
    )
    model.add_argument("--solver", choices=("adam", "sgd", "lbfgs"), default="adam")
    model.add_argument(
        "--epochs",
        type=_positive_int,
        default=200,
        metavar="N",
        help="epochs, or lbfgs iterations (default: 200)",
    )
    model.add_argument(
        "--batch-size",
        type=_batch_size,
        default="auto",
        metavar="N",
        help="default: auto, min(200, n)",
    )
    model.add_argument("--lr", type=_positive_float, default=1e-3, help="default: 0.001")
    model.add_argument("--seed", type=int, default=0, help="seeds data, split and weights")
    model.add_argument("--backend", choices=("numba", "numpy"), default="numba")
    model.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    model.add_argument(
        "--blas-threads",
        type=_positive_int,
        metavar="N",
        help="threads of the BLAS behind the matrix products (default: BLAS's own)",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar (off anyway if not a terminal)"
    )
    p.set_defaults(run=_train_command)


def _add_info(commands):
    p = commands.add_parser("info", help="print versions, Numba settings and the CPU")
    p.set_defaults(run=_info_command)


def main(argv=None):
    """Run the ``fastnn`` command with ``argv`` (default: ``sys.argv[1:]``).

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name.

    Returns
    -------
    int
        The exit status: 0 on success, 2 on a user error, 130 if training was interrupted.
    """
    try:
        args = build_parser().parse_args(argv)
        status = args.run(args)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, OSError, ValueError) as exc:
        message = " ".join(str(exc).split())
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    return 0 if status is None else status


# --- train ---------------------------------------------------------------------------


@dataclass
class Dataset:
    """The data of one run, its name, and whether its targets are class labels."""

    name: str
    X: np.ndarray
    y: np.ndarray
    classification: bool


@dataclass
class Split:
    """Train and test sets (the same arrays when there was too little data to split)."""

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    note: str


@dataclass
class Trained:
    """A network with the scaling fitted on its train set: what ``--save`` would store.

    :meth:`predict` and :meth:`score` take raw features, and targets on their own scale.
    """

    model: object
    scaler: StandardScaler
    y_mean: float = 0.0
    y_scale: float = 1.0

    def scale_target(self, y):
        """Regression targets standardised as in training; class labels unchanged."""
        if is_classifier(self.model):
            return y
        return (y - self.y_mean) / self.y_scale

    def predict(self, X):
        """Class labels, or targets on their original scale, for raw features ``X``."""
        out = self.model.predict(self.scaler.transform(X))
        if is_classifier(self.model):
            return out
        return out * self.y_scale + self.y_mean

    def score(self, X, y):
        """Accuracy, or R² (which standardising the target leaves unchanged)."""
        return self.model.score(self.scaler.transform(X), self.scale_target(y))


@dataclass
class Timing:
    """Seconds spent training, split into the first epoch and the others."""

    epochs: int  # epochs run (iterations for lbfgs)
    first: float  # first epoch, or lbfgs's one-iteration warm-up fit: includes compilation
    rest: float  # every other epoch, or lbfgs's real fit
    n_samples: int  # samples per epoch
    interrupted: bool = False


def _train_command(args):
    data = _load(args)
    split = _split(data, args)
    trained = Trained(_model(args, data.classification), *_scaling(data, split))
    print(_describe(data, split, trained.model, args))
    X_train = trained.scaler.transform(split.X_train)
    y_train = trained.scale_target(split.y_train)
    timing = _fit(trained.model, X_train, y_train, np.unique(data.y), args)
    _report(trained, split, timing)
    # Here --save and --plot will take ``trained`` (and ``split`` for the plot).
    return EXIT_INTERRUPTED if timing.interrupted else 0


def _load(args):
    if args.csv is None:
        if args.target is not None:
            raise UsageError("--target goes with --csv; built-in datasets have their own")
        X, y = datasets.load(args.dataset, args.n_samples, args.noise, random_state=args.seed)
        name, classification = args.dataset, datasets.is_classification(args.dataset)
    else:
        if args.target is None:
            raise UsageError("--csv needs --target COL, the column to predict")
        if args.n_samples is not None or args.noise is not None:
            raise UsageError("--n-samples and --noise apply to generated datasets, not --csv")
        X, y = datasets.load_csv(args.csv, args.target)
        name = os.path.basename(args.csv)
        classification = y.dtype.kind in "USO" or type_of_target(y) in ("binary", "multiclass")
    if args.task != "auto":
        classification = args.task == "classification"
    if not classification and y.dtype.kind not in "iuf":
        raise UsageError(f"--task regression needs numeric targets; {name} has labels")
    if classification and np.unique(y).shape[0] < 2:
        raise UsageError(f"{name}: classification needs at least two classes")
    return Dataset(name, X, y, classification)


def _holdout(X, y, fraction, classification, seed):
    """``train_test_split``, or ``None`` when a part would be too small to use."""
    n = X.shape[0]
    n_out = math.ceil(fraction * n)
    smallest = np.unique(y).shape[0] if classification else 2
    if fraction == 0 or n_out < smallest or n - n_out < smallest:
        return None
    stratify = y if classification else None
    return train_test_split(X, y, test_size=fraction, random_state=seed, stratify=stratify)


def _split(data, args):
    parts = _holdout(data.X, data.y, args.test_size, data.classification, args.seed)
    if parts is None:
        reason = "--test-size 0" if args.test_size == 0 else "too few samples to hold some out"
        note = f"no split ({reason}): train and test on all {data.X.shape[0]} samples"
        return Split(data.X, data.X, data.y, data.y, note)
    X_train, X_test, y_train, y_test = parts
    how = "stratified" if data.classification else "random"
    note = f"train {X_train.shape[0]} / test {X_test.shape[0]} ({how} split)"
    return Split(X_train, X_test, y_train, y_test, note)


def _scaling(data, split):
    """Feature scaler, target mean and scale: fitted on the train set only."""
    scaler = StandardScaler().fit(split.X_train)
    if data.classification:
        return scaler, 0.0, 1.0
    return scaler, float(np.mean(split.y_train)), float(np.std(split.y_train)) or 1.0


def _model(args, classification):
    from fastnn import MLPClassifier, MLPRegressor

    cls = MLPClassifier if classification else MLPRegressor
    return cls(
        hidden_layer_sizes=args.hidden,
        activation=args.activation,
        solver=args.solver,
        batch_size=args.batch_size,
        learning_rate_init=args.lr,
        max_iter=args.epochs,
        # One generator for the whole run, so that each partial_fit epoch draws a new
        # shuffle (an int seed restarts it, and every epoch would repeat the same order).
        random_state=np.random.RandomState(args.seed),
        backend=args.backend,
        dtype=args.dtype,
    )


def _describe(data, split, model, args):
    n, d = data.X.shape
    if data.classification:
        what = f"{np.unique(data.y).shape[0]} classes"
        scaled = "features standardised"
    else:
        what = "regression"
        scaled = "features and target standardised"
    return (
        f"data:  {data.name}: {n} samples, {d} features, {what}; {split.note}; {scaled}\n"
        f"model: {type(model).__name__} hidden={','.join(map(str, args.hidden))} "
        f"activation={args.activation} solver={args.solver} lr={args.lr:g} "
        f"batch_size={args.batch_size} epochs={args.epochs} backend={args.backend} "
        f"dtype={args.dtype} seed={args.seed}"
        + ("" if args.blas_threads is None else f" blas_threads={args.blas_threads}")
    )


def _fit(model, X, y, classes, args):
    """Train ``model``; the estimator's warnings are printed once each, on one line."""
    with warnings.catch_warnings(record=True) as caught, _blas_threads(args.blas_threads):
        warnings.simplefilter("always")
        if args.solver == "lbfgs":
            timing = _fit_lbfgs(model, X, y)
        else:
            timing = _fit_epochs(model, X, y, classes, args, caught)
    sys.stdout.flush()  # keep the warnings after what was printed before them
    for message in dict.fromkeys(" ".join(str(w.message).split()) for w in caught):
        print(f"{PROG}: warning: {message}", file=sys.stderr)
    return timing


def _blas_threads(n):
    """A context limiting BLAS to ``n`` threads (no limit for ``None``)."""
    if n is None:
        return contextlib.nullcontext()
    import scipy.linalg.cython_blas  # noqa: F401  (load the BLAS Numba binds to, to limit it)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n, user_api="blas")


def _fit_lbfgs(model, X, y):
    """One ``fit``, after a one-iteration ``fit`` that times compilation on its own."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration does not converge, by design
        clone(model).set_params(max_iter=1).fit(X, y)
    first = time.perf_counter() - start
    start = time.perf_counter()
    model.fit(X, y)
    return Timing(model.n_iter_, first, time.perf_counter() - start, X.shape[0])


def _fit_epochs(model, X, y, classes, args, caught):
    """One ``partial_fit`` per epoch, under a progress bar; stops early on Ctrl-C.

    ``caught`` is the list of recorded warnings: the estimator turns a Ctrl-C inside an
    epoch into a "Training interrupted by user." warning (as scikit-learn does).
    """
    from tqdm import tqdm

    holdout = _holdout(X, y, args.validation_fraction, is_classifier(model), args.seed)
    if holdout is not None:
        X, X_val, y, y_val = holdout
    extra = {"classes": classes} if is_classifier(model) else {}
    timing = Timing(0, 0.0, 0.0, X.shape[0])
    bar = tqdm(range(args.epochs), desc="train", unit="epoch", disable=True if args.quiet else None)
    try:
        for epoch in bar:
            n_warnings = len(caught)
            start = time.perf_counter()
            model.partial_fit(X, y, **extra)
            seconds = time.perf_counter() - start
            if epoch == 0:
                timing.first = seconds
            else:
                timing.rest += seconds
            timing.epochs += 1
            if any("interrupted by user" in str(w.message) for w in caught[n_warnings:]):
                raise KeyboardInterrupt
            postfix = {"loss": f"{model.loss_:.4f}"}
            if holdout is not None:
                postfix["val"] = f"{model.score(X_val, y_val):.4f}"
            bar.set_postfix(postfix, refresh=False)
    except KeyboardInterrupt:
        timing.interrupted = True
    finally:
        bar.close()
    if holdout is not None and timing.epochs:
        name = "accuracy" if is_classifier(model) else "R²"
        print(f"validation {name}: {model.score(X_val, y_val):.4f} ({X_val.shape[0]} samples)")
    return timing


def _report(trained, split, timing):
    if timing.interrupted:
        print(f"interrupted after {timing.epochs} epochs")
    if timing.epochs == 0:
        return
    name = "accuracy" if is_classifier(trained.model) else "R²"
    print(f"train {name}: {trained.score(split.X_train, split.y_train):.4f}")
    print(f"test {name}:  {trained.score(split.X_test, split.y_test):.4f}")
    print(f"final loss: {trained.model.loss_:.6f}")
    print(_speed(timing, trained.model))


def _speed(timing, model):
    compiled = " (includes compilation or cache load)" if model.backend == "numba" else ""
    if model.solver == "lbfgs":
        unit, steady = "iteration", timing.epochs
        first = f"warm-up fit {timing.first:.2f} s{compiled}"
    else:
        unit, steady = "epoch", timing.epochs - 1
        first = f"first epoch {timing.first:.2f} s{compiled}"
    if steady == 0 or timing.rest == 0:
        return f"time: {first}"
    per = timing.rest / steady
    return (
        f"time: {first}; then {per * 1e3:.3g} ms/{unit} over {steady} {unit}s, "
        f"{timing.n_samples / per:,.0f} samples/s"
    )


# --- info ----------------------------------------------------------------------------


def _info_command(args):
    for key, value in info().items():
        print(f"{key + ':':<24}{value}")


def info():
    """What a bug report needs: versions, Numba's settings, and the machine.

    Returns
    -------
    dict of str to str
        One line of text per item.
    """
    import numba
    import sklearn

    import fastnn
    from fastnn import _jit

    return {
        "fastnn": f"{fastnn.__version__} ({os.path.dirname(fastnn.__file__)})",
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "numpy": np.__version__,
        "numba": numba.__version__,
        "scikit-learn": sklearn.__version__,
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cores": _cores(),
        "numba threads": str(numba.config.NUMBA_NUM_THREADS),
        "numba threading layer": _threading_layer(numba),
        "numba cache dir": numba.config.CACHE_DIR or "default (next to sources)",
        "fastmath": "on" if _jit.OPTIONS["fastmath"] else "off (FASTNN_FASTMATH=1 turns it on)",
        "blas": _blas(),
    }


def _blas():
    """The BLAS that Numba's ``np.dot`` calls (SciPy's), with its thread count."""
    import scipy.linalg.cython_blas  # noqa: F401  (loads the library Numba binds to)
    from threadpoolctl import threadpool_info

    pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
    scipy_pools = [p for p in pools if "scipy" in os.path.basename(os.path.dirname(p["filepath"]))]
    pool = (scipy_pools or pools or [None])[-1]
    if pool is None:
        return "unknown"
    version, threads = pool["version"], pool["num_threads"]
    return f"{pool['internal_api']} {version}, threads: {threads} (behind the kernels' np.dot)"


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _cores():
    logical = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # sched_getaffinity exists on Linux only
        return f"{logical} logical"
    return f"{logical} logical, {usable} usable by this process"


def _threading_layer(numba):
    """The layer in use, or (before any parallel kernel has run) the one requested."""
    try:
        return numba.threading_layer()
    except ValueError:  # raised until a parallel kernel has run in this process
        pass
    available = []
    for layer, module in (("tbb", "tbbpool"), ("omp", "omppool"), ("workqueue", "workqueue")):
        try:
            __import__(f"numba.np.ufunc.{module}")
        except Exception:  # ImportError, or OSError when the library fails to load
            continue
        available.append(layer)
    return (
        f"not started yet (requested: {numba.config.THREADING_LAYER}; "
        f"available: {', '.join(available) or 'none'})"
    )
