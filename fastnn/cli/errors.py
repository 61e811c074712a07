"""What every subcommand shares: the program name, the exit statuses and user errors.

A :class:`UsageError` is a mistake of the user's (a missing file, an unknown dataset, a
bad option): :func:`fastnn.cli.main` prints it as one line starting with
``fastnn: error:`` and returns :data:`EXIT_USAGE`, never a traceback.
"""

import os

PROG = "fastnn"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A mistake of the user's, reported as one line without a traceback."""


def check_directory(path):
    """Fail before the work, not after it, if ``path`` cannot be written to.

    Parameters
    ----------
    path : str or None
        A file to be written; ``None`` (nothing to write) passes.

    Raises
    ------
    UsageError
        If the directory of ``path`` does not exist, or ``path`` is a directory.
    """
    if path is None:
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"cannot write {path}: no directory {directory}")
    if os.path.isdir(path):
        raise UsageError(f"cannot write {path}: it is a directory")
