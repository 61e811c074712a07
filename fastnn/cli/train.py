"""``fastnn train``: train a network on a dataset or a CSV file and print its scores.

:func:`run` is a pipeline of small steps: :func:`_load` the data, :func:`_split` it,
fit the :func:`_scaling` on the train set, train the model epoch by epoch
(:func:`fastnn.cli.fitting.fit`) and :func:`_report` the scores. It ends holding a
:class:`~fastnn.cli.trained.Trained` model (network and scaling), which ``--save``
writes with :func:`fastnn.save` (the scaling in its ``extra`` arrays) and ``--plot``
draws with :func:`fastnn.plot.plot_training`.
"""

import os
from dataclasses import dataclass

import numpy as np
import scipy.sparse
from sklearn.base import is_classifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import type_of_target

from fastnn import datasets
from fastnn.cli.errors import EXIT_INTERRUPTED, UsageError, check_directory
from fastnn.cli.fitting import fit, holdout, speed
from fastnn.cli.trained import Trained


@dataclass
class Dataset:
    """The data of one run, its name, and whether its targets are class labels.

    Attributes
    ----------
    name : str
        The dataset's name, or the CSV file's.
    X, y : ndarray
        Features and targets.
    classification : bool
        Whether ``y`` holds class labels.
    feature_names : list of str or None
        The names of the feature columns, for a CSV file.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    classification: bool
    feature_names: list = None


@dataclass
class Split:
    """Train and test sets (the same arrays when there was too little data to split).

    Attributes
    ----------
    X_train, X_test, y_train, y_test : ndarray
        The two sets.
    note : str
        How the data was split, for the summary line.
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    note: str


def run(args):
    """Carry out ``fastnn train``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options of the subcommand.

    Returns
    -------
    int
        The exit status: 0, or 130 if training was interrupted.

    Raises
    ------
    UsageError
        If the options do not fit the data (such as ``--target`` without ``--csv``), or
        an output file cannot be written.
    """
    for path in (args.save, args.plot):
        check_directory(path)
    data = _load(args)
    split = _split(data, args)
    scaler, y_mean, y_scale = _scaling(data, split)
    trained = Trained(
        model=_model(args, data.classification),
        scaler=scaler,
        y_mean=y_mean,
        y_scale=y_scale,
        feature_names=data.feature_names,
    )
    print(_describe(data, split, trained.model, args))
    X_train = trained.transform(split.X_train)
    y_train = trained.scale_target(split.y_train)
    timing = fit(trained.model, X_train, y_train, args)
    _report(trained, split, timing)
    if timing.epochs:
        _save(trained, args)
        _plot(trained, data, timing, args)
    return EXIT_INTERRUPTED if timing.interrupted else 0


def _load(args):
    if args.csv is None:
        if args.target is not None:
            raise UsageError("--target goes with --csv; built-in datasets have their own")
        X, y = datasets.load(args.dataset, args.n_samples, args.noise, random_state=args.seed)
        classification = datasets.is_classification(args.dataset)
        data = Dataset(name=args.dataset, X=X, y=y, classification=classification)
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


def _split(data, args):
    parts = holdout(
        data.X,
        data.y,
        fraction=args.test_size,
        classification=data.classification,
        seed=args.seed,
    )
    if parts is None:
        reason = "--test-size 0" if args.test_size == 0 else "too few samples to hold some out"
        note = f"no split ({reason}): train and test on all {data.X.shape[0]} samples"
        return Split(X_train=data.X, X_test=data.X, y_train=data.y, y_test=data.y, note=note)
    X_train, X_test, y_train, y_test = parts
    how = "stratified" if data.classification else "random"
    note = f"train {X_train.shape[0]} / test {X_test.shape[0]} ({how} split)"
    return Split(X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test, note=note)


def _scaling(data, split):
    """Feature scaler, target mean and scale: fitted on the train set only. Sparse
    features (TF-IDF rows, already normalised) are left as they are: centring them
    would make them dense."""
    scaler = None if scipy.sparse.issparse(split.X_train) else StandardScaler().fit(split.X_train)
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
    if scipy.sparse.issparse(data.X):
        what += f", sparse ({data.X.nnz / max(n, 1):.0f} non-zeros a sample)"
        scaled = scaled.replace("features and target", "target").replace(
            "features standardised", "features as they are"
        )
    return (
        f"data:  {data.name}: {n} samples, {d} features, {what}; {split.note}; {scaled}\n"
        f"model: {type(model).__name__} hidden={','.join(map(str, args.hidden))} "
        f"activation={args.activation} solver={args.solver} lr={args.lr:g} "
        f"batch_size={args.batch_size} epochs={args.epochs} backend={args.backend} "
        f"dtype={args.dtype} seed={args.seed}"
        + ("" if args.blas_threads is None else f" blas_threads={args.blas_threads}")
    )


def _report(trained, split, timing):
    if timing.interrupted:
        print(f"interrupted after {timing.epochs} epochs")
    if timing.epochs == 0:
        return
    name = "accuracy" if is_classifier(trained.model) else "R²"
    print(f"train {name}: {trained.score(split.X_train, split.y_train):.4f}")
    print(f"test {name}:  {trained.score(split.X_test, split.y_test):.4f}")
    print(f"final loss: {trained.model.loss_:.6f}")
    print(speed(timing, trained.model))


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
