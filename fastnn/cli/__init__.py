"""The ``fastnn`` command line: ``fastnn train``, ``fastnn predict`` and ``fastnn info``.

:func:`main` parses the arguments (:mod:`fastnn.cli.arguments`) and runs the subcommand:

- :mod:`fastnn.cli.train` loads and splits the data, fits the scaling and the model
  (timed, with a progress bar, by :mod:`fastnn.cli.fitting`), prints the scores and,
  with ``--save`` and ``--plot``, writes the model and a plot;
- :mod:`fastnn.cli.predict` reads such a model file back and predicts a CSV file's rows;
- :mod:`fastnn.cli.environment` prints versions, Numba's settings and the machine.

:mod:`fastnn.cli.trained` holds the model with its scaling (what ``--save`` writes and
``predict`` reads), and :mod:`fastnn.cli.errors` what every subcommand shares: the exit
statuses and :class:`UsageError`. User errors (a missing file, an unknown dataset, a bad
option) print one line starting with ``fastnn: error:`` to stderr and give exit status
2, never a traceback.
"""

import sys

from fastnn.cli.arguments import build_parser
from fastnn.cli.environment import info
from fastnn.cli.errors import EXIT_INTERRUPTED, EXIT_USAGE, PROG, UsageError
from fastnn.cli.fitting import Timing
from fastnn.cli.train import Dataset, Split
from fastnn.cli.trained import Trained

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "PROG",
    "Dataset",
    "Split",
    "Timing",
    "Trained",
    "UsageError",
    "build_parser",
    "info",
    "main",
]


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
