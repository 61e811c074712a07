"""``fastnn predict``: predict the rows of a CSV file with a model saved by ``train --save``.

:func:`run` reads the model file as a :class:`~fastnn.cli.trained.Trained` model, picks
the CSV columns it was trained on (by name when it knows their names, otherwise every
column but ``--target``, in order) and writes one prediction per row as CSV.
"""

import contextlib
import csv
import sys
import warnings

import numpy as np

from fastnn import datasets
from fastnn.cli.errors import UsageError, check_directory
from fastnn.cli.trained import Trained


def run(args):
    """Carry out ``fastnn predict``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options of the subcommand (``model``, ``csv``, ``target``,
        ``output``).

    Raises
    ------
    UsageError
        If the CSV file lacks the model's feature columns, or has the wrong number of
        columns.
    """
    check_directory(args.output)
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
