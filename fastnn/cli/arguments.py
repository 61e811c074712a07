"""The ``fastnn`` argument parser: one subparser per subcommand, and the option types.

Each subcommand is one ``_add_<name>`` function that registers its options and sets
``run`` to the function carrying it out (``run`` of :mod:`fastnn.cli.train`,
:mod:`fastnn.cli.predict` or :mod:`fastnn.cli.environment`), so a new option is added in
one place. An option type turns one string into a value, or says what is wrong with it;
the parser raises every mistake as a :class:`~fastnn.cli.errors.UsageError`.
"""

import argparse
import math

from fastnn import datasets
from fastnn.cli import environment, predict, train
from fastnn.cli.errors import PROG, UsageError


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors raised (one line in :func:`fastnn.cli.main`) instead of
    printed."""

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


def _float(text, *, low, inclusive, what):
    """A finite number above ``low`` (or equal to it, if ``inclusive``)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and (value >= low if inclusive else value > low)):
        raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
    return value


def _positive_float(text):
    return _float(text, low=0.0, inclusive=False, what="a positive number")


def _non_negative_float(text):
    return _float(text, low=0.0, inclusive=True, what="a number >= 0")


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
    """The ``fastnn`` argument parser, one subparser per subcommand.

    Returns
    -------
    argparse.ArgumentParser
        The parser; each subcommand's namespace has ``run``, the function carrying the
        subcommand out.
    """
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
    p.set_defaults(run=train.run)


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
    p.set_defaults(run=predict.run)


def _add_info(commands):
    p = commands.add_parser("info", help="print versions, Numba settings and the CPU")
    p.set_defaults(run=environment.run)
