"""Small datasets for trying fastnn: toy problems, scikit-learn's bundled sets, and CSV files.

:func:`load` returns ``(X, y)`` by name; :func:`load_csv` reads a user's file with a
header row, with the standard library's :mod:`csv` and NumPy only.
"""

import csv
import os
from numbers import Integral, Real

import numpy as np
from sklearn import datasets as skdata
from sklearn.utils import check_random_state

# Generated datasets: ``n_samples`` and ``noise`` shape them.
GENERATED = ("xor", "moons", "circles", "spirals", "blobs", "text")
# scikit-learn's bundled datasets: ``n_samples`` draws a subsample, ``noise`` is refused.
BUNDLED = ("digits", "iris", "wine", "breast_cancer", "diabetes")
NAMES = GENERATED + BUNDLED

REGRESSION = frozenset({"diabetes"})

DEFAULT_N_SAMPLES = 1000
# Standard deviation of the Gaussian noise of each generated dataset, when not given.
DEFAULT_NOISE = {"xor": 0.1, "moons": 0.2, "circles": 0.1, "spirals": 0.05, "blobs": 1.0,
                 "text": 0.8}  # fmt: skip
# The generated text: words in its vocabulary, topics (the classes), mean words a
# document (Poisson).
TEXT_WORDS, TEXT_TOPICS, TEXT_LENGTH = 2000, 4, 40

_XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
_XOR_Y = np.array([0, 1, 1, 0])


def _check_name(name):
    if name not in NAMES:
        raise ValueError(f"Unknown dataset {name!r}; available datasets: {', '.join(NAMES)}.")


def is_classification(name):
    """Whether the dataset ``name`` has class labels (``False``: real-valued targets).

    Parameters
    ----------
    name : str
        One of :data:`NAMES`.

    Returns
    -------
    bool
        ``True`` for every dataset but ``'diabetes'``.
    """
    _check_name(name)
    return name not in REGRESSION


def load(name, n_samples=None, noise=None, random_state=0):
    """Load the dataset ``name`` as ``(X, y)``.

    Parameters
    ----------
    name : str
        One of :data:`NAMES`. Generated: ``'xor'``, ``'moons'``, ``'circles'``,
        ``'spirals'``, ``'blobs'``, ``'text'`` (sparse: documents of four topics as
        TF-IDF rows of a 2,000-word vocabulary); bundled with scikit-learn:
        ``'digits'``, ``'iris'``, ``'wine'``, ``'breast_cancer'``, ``'diabetes'``
        (regression).
    n_samples : int, default=None
        Number of samples. ``None`` gives 1000 for generated datasets, the four points of
        the XOR truth table for ``'xor'``, and the whole of a bundled dataset; for a bundled
        dataset a smaller number draws a random subsample (rows keep their order).
    noise : float, default=None
        Standard deviation of the Gaussian noise of a generated dataset (``cluster_std`` for
        ``'blobs'``, and ``factor=0.5`` is kept for ``'circles'``; for ``'text'``, the
        share of each document's words drawn from the whole vocabulary rather than its
        topic's, in ``[0, 1]``). ``None`` gives a default per dataset, and no noise for
        the four-point ``'xor'``. Bundled datasets refuse it.
    random_state : int, RandomState instance or None, default=0
        Seeds the generation or subsampling.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64
        The inputs; for ``'text'``, a ``scipy.sparse`` CSR matrix.
    y : ndarray of shape (n_samples,)
        Class labels (int64), or real targets (float64) for ``'diabetes'``.
    """
    _check_name(name)
    if n_samples is not None and (
        not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 1
    ):
        raise ValueError(f"n_samples must be a positive int or None; got {n_samples!r}.")
    if noise is not None and (not isinstance(noise, Real) or not noise >= 0):
        raise ValueError(f"noise must be a non-negative number or None; got {noise!r}.")
    rng = check_random_state(random_state)
    if name in BUNDLED:
        if noise is not None:
            raise ValueError(
                f"noise applies to generated datasets ({', '.join(GENERATED)}), not to {name!r}."
            )
        X, y = _bundled(name)
        if n_samples is not None and n_samples < X.shape[0]:
            rows = np.sort(rng.choice(X.shape[0], n_samples, replace=False))
            X, y = X[rows], y[rows]
        elif n_samples is not None and n_samples > X.shape[0]:
            raise ValueError(
                f"Dataset {name!r} has {X.shape[0]} samples; cannot draw n_samples={n_samples}."
            )
    elif name == "xor":
        X, y = _xor(n_samples, noise, rng)
    else:
        n = DEFAULT_N_SAMPLES if n_samples is None else int(n_samples)
        std = DEFAULT_NOISE[name] if noise is None else float(noise)
        if name == "text" and std > 1:
            raise ValueError(f"noise for 'text' is a share of words, in [0, 1]; got {noise!r}.")
        X, y = _GENERATORS[name](n, std, rng)
    if name == "text":
        return X, np.asarray(y, dtype=np.int64)
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64 if name in REGRESSION else np.int64)
    return X, y


def _bundled(name):
    loader = getattr(skdata, f"load_{name}")
    return loader(return_X_y=True)


def _xor(n_samples, noise, rng):
    """The XOR truth table, or ``n_samples`` points in Gaussian clusters around its corners."""
    if n_samples is None:
        std = 0.0 if noise is None else float(noise)
        return _XOR_X + std * rng.standard_normal(_XOR_X.shape), _XOR_Y.copy()
    std = DEFAULT_NOISE["xor"] if noise is None else float(noise)
    corner = rng.permutation(np.arange(n_samples) % 4)  # balanced classes
    X = _XOR_X[corner] + std * rng.standard_normal((n_samples, 2))
    return X, _XOR_Y[corner]


def _moons(n_samples, noise, rng):
    return skdata.make_moons(n_samples, noise=noise, random_state=rng)


def _circles(n_samples, noise, rng):
    return skdata.make_circles(n_samples, noise=noise, factor=0.5, random_state=rng)


def _blobs(n_samples, noise, rng):
    return skdata.make_blobs(n_samples, centers=3, cluster_std=noise, random_state=rng)


def _spirals(n_samples, noise, rng, turns=1.5):
    """Two interleaved spirals of ``turns`` turns each, radius growing from 0 to 1.

    The second spiral is the first turned by half a turn; neighbouring arms are
    ``1 / (2 * turns)`` apart, so ``noise`` well below that keeps them separable.
    """
    label = rng.permutation(np.arange(n_samples) % 2)
    # sqrt spreads the points evenly along the arc length rather than the angle.
    t = np.sqrt(rng.uniform(0.0, 1.0, n_samples))
    angle = 2.0 * np.pi * turns * t + np.pi * label
    X = np.column_stack([t * np.cos(angle), t * np.sin(angle)])
    X += noise * rng.standard_normal(X.shape)
    return X, label


def _text(n_samples, noise, rng):
    """Documents of :data:`TEXT_TOPICS` topics as L2-normalised TF-IDF rows (CSR).

    Word frequencies follow Zipf's law. Each topic has its own favourite words (a block
    of the vocabulary, in an order of its own); a document's words come from its
    topic's distribution, or with probability ``noise`` from the whole vocabulary's.
    """
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import TfidfTransformer

    zipf = 1.0 / np.arange(1, TEXT_WORDS + 1) ** 1.1
    common = rng.permutation(TEXT_WORDS)  # common[r]: the word of rank r overall
    block = TEXT_WORDS // TEXT_TOPICS
    topics = []
    for k in range(TEXT_TOPICS):
        own = k * block + rng.permutation(block)
        others = np.setdiff1d(np.arange(TEXT_WORDS), own)
        topics.append(np.concatenate([own, rng.permutation(others)]))
    label = rng.permutation(np.arange(n_samples) % TEXT_TOPICS)
    lengths = 5 + rng.poisson(TEXT_LENGTH, n_samples)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    ranks = rng.choice(TEXT_WORDS, size=indptr[-1], p=zipf / zipf.sum())
    from_topic = rng.uniform(size=indptr[-1]) >= noise
    doc = np.repeat(np.arange(n_samples), lengths)
    words = np.where(from_topic, np.asarray(topics)[label[doc], ranks], common[ranks])
    counts = csr_matrix((np.ones(indptr[-1]), words, indptr), shape=(n_samples, TEXT_WORDS))
    counts.sum_duplicates()
    return TfidfTransformer().fit_transform(counts).tocsr(), label


_GENERATORS = {"moons": _moons, "circles": _circles, "blobs": _blobs, "spirals": _spirals,
               "text": _text}  # fmt: skip


# --- CSV files ------------------------------------------------------------------------


def csv_table(path, delimiter=","):
    """The header and the data rows of a CSV file: ``(header, [(line number, fields),
    ...])``, fields stripped, blank rows skipped. A missing or empty file, a file without
    data rows, or a row with the wrong number of fields raises an error that names it."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"CSV file not found: {path}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        rows = [
            (reader.line_num, [field.strip() for field in row])
            for row in reader
            if any(field.strip() for field in row)
        ]
    if not rows:
        raise ValueError(f"{path} is empty: expected a header row and data rows.")
    _, header = rows[0]
    data = rows[1:]
    if not data:
        raise ValueError(f"{path} has a header row but no data rows.")
    for line, row in data:
        if len(row) != len(header):
            raise ValueError(
                f"{path}, line {line}: {len(row)} fields, but the header has {len(header)}."
            )
    return header, data


def load_csv(path, target, delimiter=","):
    """Read a CSV file with a header row as ``(X, y)``.

    Parameters
    ----------
    path : str or path-like
        The file. Blank lines are skipped; surrounding spaces of each field are removed.
    target : str or int
        The target column: its name in the header, or its position (negative counts from
        the end). A string that names no column but reads as an int is taken as a position.
    delimiter : str, default=','
        The field separator.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64
        Every other column, which must all hold finite numbers.
    y : ndarray of shape (n_samples,)
        The target: int64 if every value is an integer, float64 if every value is a
        number, and the values as strings (class labels) otherwise.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is empty, a row has the wrong number of fields, ``target`` names no
        column, a feature value is missing or not a finite number, or a target value is missing.
    """
    path = os.fspath(path)
    header, data = csv_table(path, delimiter)
    j = _target_index(header, target, path)
    features = [k for k in range(len(header)) if k != j]
    X = _features([[row[k] for k in features] for _, row in data])
    if X is None or not np.isfinite(X).all():
        _raise_bad_feature(data, header, features, path)
    for line, row in data:
        if row[j] == "":
            raise ValueError(f"{path}, line {line}: target column {header[j]!r} is empty.")
    return X, _target_values([row[j] for _, row in data])


def _target_index(header, target, path):
    if len(header) < 2:
        raise ValueError(f"{path} has a single column: no features are left beside the target.")
    columns = ", ".join(repr(c) for c in header)
    if isinstance(target, str):
        hits = [k for k, c in enumerate(header) if c == target]
        if len(hits) > 1:
            raise ValueError(f"{path}: the target column {target!r} appears {len(hits)} times.")
        if hits:
            return hits[0]
        try:
            target = int(target)
        except ValueError:
            raise ValueError(
                f"{path} has no column {target!r}; its columns are: {columns}."
            ) from None
    if not isinstance(target, Integral) or isinstance(target, bool):
        raise ValueError(f"target must be a column name or an int; got {target!r}.")
    if not -len(header) <= target < len(header):
        raise ValueError(
            f"{path} has {len(header)} columns; target index {target} is out of range. "
            f"Its columns are: {columns}."
        )
    return int(target) % len(header)


def _features(cells):
    """The feature cells as float64, or ``None`` if some cell is not a number."""
    try:
        return np.array(cells, dtype=np.float64)
    except ValueError:
        return None


def _raise_bad_feature(data, header, features, path):
    """Name the first feature cell that is not a finite number."""
    for line, row in data:
        for k in features:
            try:
                value = float(row[k])
            except ValueError:
                value = None
            if value is None or not np.isfinite(value):
                what = "is empty" if row[k] == "" else f"has the value {row[k]!r}"
                raise ValueError(
                    f"{path}, line {line}: feature column {header[k]!r} {what}; features must "
                    "be finite numbers (only the target column may hold labels)."
                )


def _target_values(values):
    """Integers, else real numbers, else the strings themselves (class labels)."""
    for kind, dtype in ((int, np.int64), (float, np.float64)):
        try:
            return np.array([kind(v) for v in values], dtype=dtype)
        except (ValueError, OverflowError):
            continue
    return np.array(values)
