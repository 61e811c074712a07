"""The ``fastnn`` command line: ``fastnn train``, ``fastnn predict`` and ``fastnn info``.

Each subcommand is one ``_add_<name>`` function that registers its options and sets
``run`` to the function carrying it out, so a new subcommand or option is added in one
place. ``train`` is a pipeline of small steps: :func:`_load` the data, :func:`_split` it,
fit the :func:`_scaling` on the train set, :func:`_fit` the model epoch by epoch and
:func:`_report` the scores. It ends holding a :class:`Trained` model (network and
scaling), which ``--save`` writes with :func:`fastnn.save` (the scaling in its ``extra``
arrays) and ``--plot`` draws with :func:`fastnn.plot.plot_training`. ``predict`` reads
such a file back as a :class:`Trained` model and predicts the rows of a CSV file.

User errors (a missing file, an unknown dataset, a bad option) print one line starting
with ``fastnn: error:`` to stderr and give exit status 2, never a traceback.
"""

import argparse
import contextlib
import csv
import math
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
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
    _add_predict(commands)
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
    model.add_argument(
        "--dropout",
        type=_fraction,
        default=0.0,
        metavar="P",
        help="dropout rate of every hidden layer, in [0, 1) (default: 0, none)",
    )
    model.add_argument("--seed", type=int, default=0, help="seeds data, split and weights")
    model.add_argument("--backend", choices=("numba", "numpy"), default="numba")
    model.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    model.add_argument(
        "--blas-threads",
        type=_positive_int,
        metavar="N",
        help="threads of the BLAS behind the matrix products (default: BLAS's own)",
    )
    output = p.add_argument_group("output")
    output.add_argument(
        "--save",
        metavar="FILE",
        help="write the trained model and its feature scaling to FILE (.npz), for 'fastnn predict'",
    )
    plot = output.add_mutually_exclusive_group()
    plot.add_argument(
        "--plot",
        metavar="FILE",
        help="write a PNG of the training curves (and, for 2-feature classification, the "
        "decision regions) to FILE; needs matplotlib. Default: fastnn-NAME.png in the "
        "current directory for 2-feature classification when matplotlib is installed",
    )
    plot.add_argument("--no-plot", action="store_true", help="write no plot")
    output.add_argument(
        "--quiet", action="store_true", help="no progress bar (off anyway if not a terminal)"
    )
    p.set_defaults(run=_train_command)


def _add_predict(commands):
    p = commands.add_parser(
        "predict",
        help="predict the rows of a CSV file with a model saved by 'train --save'",
        description=(
            "Read a model file written by 'fastnn train --save' (or fastnn.save), scale "
            "the features of each CSV row as in training, and write one prediction per "
            "row as a CSV column headed 'prediction'. If the model was trained on a CSV "
            "file, its feature columns are found by name; otherwise every column but "
            "--target is a feature, in order."
        ),
    )
    p.add_argument("--model", required=True, metavar="FILE", help="the saved model (.npz)")
    p.add_argument("--csv", required=True, metavar="FILE", help="a CSV file with a header row")
    p.add_argument(
        "--target", metavar="COL", help="a column to leave out (the target), by name or index"
    )
    p.add_argument(
        "--output", metavar="FILE", help="write the predictions to FILE (default: stdout)"
    )
    p.set_defaults(run=_predict_command)


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
    """The data of one run, its name, and whether its targets are class labels.

    A CSV file also gives the names of its feature columns.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    classification: bool
    feature_names: list = None


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
    """A network with the scaling fitted on its train set: what ``--save`` stores.

    :meth:`predict` and :meth:`score` take raw features, and targets on their own scale.
    ``scaler`` is ``None`` for a model saved from Python without scaling.
    ``feature_names`` are the CSV columns the network was trained on, if any.
    """

    model: object
    scaler: StandardScaler = None
    y_mean: float = 0.0
    y_scale: float = 1.0
    feature_names: list = None

    def transform(self, X):
        """Features standardised as in training."""
        return X if self.scaler is None else self.scaler.transform(X)

    def scale_target(self, y):
        """Regression targets standardised as in training; class labels unchanged."""
        if is_classifier(self.model):
            return y
        return (y - self.y_mean) / self.y_scale

    def predict(self, X):
        """Class labels, or targets on their original scale, for raw features ``X``."""
        out = self.model.predict(self.transform(X))
        if is_classifier(self.model):
            return out
        return out * self.y_scale + self.y_mean

    def score(self, X, y):
        """Accuracy, or R² (which standardising the target leaves unchanged)."""
        return self.model.score(self.transform(X), self.scale_target(y))

    def save(self, path, seed):
        """Write the network with its scaling in the file's ``extra`` arrays.

        ``seed`` replaces the network's ``RandomState`` in its saved parameters.
        """
        from fastnn.io import save

        extra = {"target_mean": self.y_mean, "target_scale": self.y_scale}
        if self.scaler is not None:
            extra.update(feature_mean=self.scaler.mean_, feature_scale=self.scaler.scale_)
        if self.feature_names is not None:
            extra["feature_names"] = np.array(self.feature_names, dtype=str)
        save(self.model.set_params(random_state=seed), path, extra=extra)

    @classmethod
    def load(cls, path):
        """Read what :meth:`save` wrote (or a bare model saved by :func:`fastnn.save`)."""
        from fastnn.io import load_with_extra

        model, extra = load_with_extra(path)
        scaler = None
        if "feature_mean" in extra:
            scaler = StandardScaler()
            # The fitted state StandardScaler.transform reads: (X - mean_) / scale_.
            scaler.mean_, scaler.scale_ = extra["feature_mean"], extra["feature_scale"]
            scaler.var_ = scaler.scale_**2
            scaler.n_features_in_ = scaler.mean_.shape[0]
        names = extra.get("feature_names")
        return cls(
            model,
            scaler,
            float(extra.get("target_mean", 0.0)),
            float(extra.get("target_scale", 1.0)),
            None if names is None else names.tolist(),
        )


@dataclass
class Timing:
    """Seconds spent training, split into the first epoch and the others; and the
    validation score after each epoch, with ``--validation-fraction``."""

    epochs: int  # epochs run (iterations for lbfgs)
    first: float  # first epoch, or lbfgs's one-iteration warm-up fit: includes compilation
    rest: float  # every other epoch, or lbfgs's real fit
    n_samples: int  # samples per epoch
    interrupted: bool = False
    validation_scores: list = field(default_factory=list)


def _train_command(args):
    for path in (args.save, args.plot):
        _check_directory(path)
    data = _load(args)
    split = _split(data, args)
    trained = Trained(_model(args, data.classification), *_scaling(data, split))
    trained.feature_names = data.feature_names
    print(_describe(data, split, trained.model, args))
    X_train = trained.scaler.transform(split.X_train)
    y_train = trained.scale_target(split.y_train)
    timing = _fit(trained.model, X_train, y_train, np.unique(data.y), args)
    _report(trained, split, timing)
    if timing.epochs:
        _save(trained, args)
        _plot(trained, data, timing, args)
    return EXIT_INTERRUPTED if timing.interrupted else 0


def _check_directory(path):
    """Fail before training, not after it, if ``path`` cannot be written to."""
    if path is None:
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"cannot write {path}: no directory {directory}")
    if os.path.isdir(path):
        raise UsageError(f"cannot write {path}: it is a directory")


def _load(args):
    if args.csv is None:
        if args.target is not None:
            raise UsageError("--target goes with --csv; built-in datasets have their own")
        X, y = datasets.load(args.dataset, args.n_samples, args.noise, random_state=args.seed)
        data = Dataset(args.dataset, X, y, datasets.is_classification(args.dataset))
    else:
        data = _load_csv(args)
    if args.task != "auto":
        data.classification = args.task == "classification"
    if not data.classification and data.y.dtype.kind not in "iuf":
        raise UsageError(f"--task regression needs numeric targets; {data.name} has labels")
    if data.classification and np.unique(data.y).shape[0] < 2:
        raise UsageError(f"{data.name}: classification needs at least two classes")
    return data


def _load_csv(args):
    if args.target is None:
        raise UsageError("--csv needs --target COL, the column to predict")
    if args.n_samples is not None or args.noise is not None:
        raise UsageError("--n-samples and --noise apply to generated datasets, not --csv")
    X, y = datasets.load_csv(args.csv, args.target)
    header, _ = datasets.csv_table(args.csv)
    j = datasets._target_index(header, args.target, args.csv)
    return Dataset(
        name=os.path.basename(args.csv),
        X=X,
        y=y,
        classification=y.dtype.kind in "USO" or type_of_target(y) in ("binary", "multiclass"),
        feature_names=[column for k, column in enumerate(header) if k != j],
    )


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
        dropout=args.dropout or None,
        random_state=args.seed,
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
    """One ``fit`` whose per-epoch callback drives the progress bar; Ctrl-C keeps the
    weights of the last finished epoch.

    ``caught`` is the list of recorded warnings: the estimator turns a Ctrl-C inside an
    epoch into a "Training interrupted by user." warning (as scikit-learn does).
    """
    from tqdm import tqdm

    holdout = _holdout(X, y, args.validation_fraction, is_classifier(model), args.seed)
    if holdout is not None:
        X, X_val, y, y_val = holdout
    timing = Timing(0, 0.0, 0.0, X.shape[0])
    bar = tqdm(total=args.epochs, desc="train", unit="epoch", disable=True if args.quiet else None)
    clock = [time.perf_counter()]

    def progress(est, info):
        now = time.perf_counter()
        if info["epoch"] == 1:
            timing.first = now - clock[0]  # includes compilation or the cache load
        else:
            timing.rest += now - clock[0]
        timing.epochs = info["epoch"]
        postfix = {"loss": f"{info['loss']:.4f}"}
        if holdout is not None:
            timing.validation_scores.append(est.score(X_val, y_val))
            postfix["val"] = f"{timing.validation_scores[-1]:.4f}"
        bar.set_postfix(postfix, refresh=False)
        bar.update(1)
        clock[0] = time.perf_counter()  # the callback's own work is not training time

    model.set_params(callbacks=[progress])
    n_warnings = len(caught)
    try:
        with warnings.catch_warnings():
            # --epochs asked for that many epochs: reaching them is no news.
            warnings.filterwarnings("ignore", message="Stochastic Optimizer: Maximum iterations")
            model.fit(X, y)
    except KeyboardInterrupt:  # a Ctrl-C outside the estimator's epoch loop
        timing.interrupted = True
    else:
        if any("interrupted by user" in str(w.message) for w in caught[n_warnings:]):
            timing.interrupted = True
        elif timing.epochs < args.epochs:  # the stopping rule ended training: a full bar
            bar.total = timing.epochs
            bar.refresh()
    finally:
        bar.close()
        model.set_params(callbacks=None)
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
    compiled = f" ({_kernels_note()})" if model.backend == "numba" else ""
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


def _kernels_note():
    """What the first epoch included: loading the compiled kernels, or compiling them."""
    from fastnn._jit import STORE

    if STORE.compiled:
        return f"includes compiling {len(STORE.compiled)} kernels; fastnn info says why"
    return "includes loading the compiled kernels"


def _save(trained, args):
    if args.save is None:
        return
    trained.save(args.save, args.seed)
    print(f"model: wrote {args.save} (fastnn predict --model {args.save} --csv FILE)")


def _plot(trained, data, timing, args):
    """Write ``--plot``, or by default the decision regions of 2-feature classification.

    The default (``fastnn-NAME.png`` in the current directory) is written only when it
    is cheap and telling: a classifier on two features, with matplotlib installed;
    without matplotlib, a hint says how to get the picture.
    """
    from fastnn.plot import PLOT_EXTRA, has_matplotlib, plot_training

    path = args.plot
    if args.no_plot:
        return
    if path is None:
        if not (data.classification and data.X.shape[1] == 2):
            return
        if not has_matplotlib():
            print(f"plot: {PLOT_EXTRA} to get a picture of the decision regions (--plot FILE)")
            return
        path = f"fastnn-{os.path.splitext(data.name)[0]}.png"
    hidden = ",".join(map(str, args.hidden))
    try:
        plot_training(
            make_pipeline(trained.scaler, trained.model),
            data.X,
            data.y,
            path,
            validation_scores=timing.validation_scores or None,
            feature_names=data.feature_names,
            title=f"{data.name}: hidden={hidden} activation={args.activation} solver={args.solver}",
        )
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    print(f"plot: wrote {path}")


# --- predict -------------------------------------------------------------------------


def _predict_command(args):
    _check_directory(args.output)
    trained = Trained.load(args.model)
    X = _read_features(args.csv, args.target, trained)
    with warnings.catch_warnings():
        # A model fitted on a DataFrame (fastnn.save from Python) knows its column
        # names; the columns were matched by name above, so the warning says nothing.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        predictions = np.asarray(trained.predict(X))
    _write_predictions(predictions, args.output)
    if args.output is not None:
        print(f"predictions: wrote {predictions.shape[0]} rows to {args.output}")


def _read_features(path, target, trained):
    """The feature matrix of a CSV file, in the columns the network was trained on."""
    header, data = datasets.csv_table(path)
    left_out = () if target is None else (datasets._target_index(header, target, path),)
    names = trained.feature_names
    if names is None and hasattr(trained.model, "feature_names_in_"):
        names = trained.model.feature_names_in_.tolist()
    n = trained.model.n_features_in_
    if names is not None:
        missing = [name for name in names if name not in header]
        if missing:
            raise UsageError(
                f"{path} lacks the model's feature columns {missing}; "
                f"its columns are: {', '.join(header)}"
            )
        columns = [header.index(name) for name in names]
    else:
        columns = [k for k in range(len(header)) if k not in left_out]
        if len(columns) != n:
            hint = "" if target is not None else "; --target COL leaves out the target column"
            raise UsageError(
                f"the model takes {n} features; {path} has {len(columns)} columns to use "
                f"({', '.join(header[k] for k in columns)}){hint}"
            )
    X = datasets._features([[row[k] for k in columns] for _, row in data])
    if X is None or not np.isfinite(X).all():
        datasets._raise_bad_feature(data, header, columns, path)
    return X


def _write_predictions(predictions, output):
    """One CSV column ``prediction`` (``prediction_0``, ... for several outputs)."""
    rows = predictions.reshape(predictions.shape[0], -1).tolist()
    if predictions.ndim == 1:
        header = ["prediction"]
    else:
        header = [f"prediction_{k}" for k in range(predictions.shape[1])]
    target = contextlib.nullcontext(sys.stdout) if output is None else open(output, "w", newline="")
    with target as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


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
    from fastnn import _cache, _jit

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
        **_cache.describe(_jit.STORE),
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
