"""Training with a clock: the epochs timed, a progress bar, and the speed line.

:func:`fit` trains the model of ``fastnn train`` and returns a :class:`Timing`: the first
epoch (which includes compiling or loading the kernels) apart from the others, and the
validation score after each epoch with ``--validation-fraction``. :func:`holdout` is the
split used both for the test set and for that validation set.
"""

import contextlib
import math
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import train_test_split

from fastnn.cli.errors import PROG


@dataclass
class Timing:
    """Seconds spent training, split into the first epoch and the others; and the
    validation score after each epoch, with ``--validation-fraction``.

    Attributes
    ----------
    epochs : int
        Epochs run (iterations for lbfgs).
    first : float
        The first epoch, or lbfgs's one-iteration warm-up fit: includes compilation.
    rest : float
        Every other epoch, or lbfgs's real fit.
    n_samples : int
        Samples per epoch.
    interrupted : bool
        Whether Ctrl-C ended training.
    validation_scores : list of float
        The validation score after each epoch (empty without a validation set).
    """

    epochs: int
    first: float
    rest: float
    n_samples: int
    interrupted: bool = False
    validation_scores: list = field(default_factory=list)


def holdout(X, y, *, fraction, classification, seed):
    """``train_test_split``, or ``None`` when a part would be too small to use.

    Parameters
    ----------
    X, y : ndarray
        Features and targets.
    fraction : float
        The share to hold out, in ``[0, 1)``.
    classification : bool
        Whether ``y`` holds class labels: the split is then stratified, and each part
        needs as many samples as there are classes (two samples for regression).
    seed : int
        Seeds the split.

    Returns
    -------
    list of ndarray or None
        ``X_kept, X_held_out, y_kept, y_held_out``, or ``None``.
    """
    n = X.shape[0]
    n_out = math.ceil(fraction * n)
    smallest = np.unique(y).shape[0] if classification else 2
    if fraction == 0 or n_out < smallest or n - n_out < smallest:
        return None
    stratify = y if classification else None
    return train_test_split(X, y, test_size=fraction, random_state=seed, stratify=stratify)


def fit(model, X, y, args):
    """Train ``model``; the estimator's warnings are printed once each, on one line.

    Parameters
    ----------
    model : MLPClassifier or MLPRegressor
        The model, trained in place.
    X, y : ndarray
        The (scaled) train set.
    args : argparse.Namespace
        The options of ``fastnn train``.

    Returns
    -------
    Timing
        How long training took, and how it ended.
    """
    with warnings.catch_warnings(record=True) as caught, _blas_threads(args.blas_threads):
        warnings.simplefilter("always")
        if args.solver == "lbfgs":
            timing = _fit_lbfgs(model, X, y)
        else:
            timing = _fit_epochs(model, X, y, args, caught=caught)
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
    rest = time.perf_counter() - start
    return Timing(epochs=model.n_iter_, first=first, rest=rest, n_samples=X.shape[0])


def _fit_epochs(model, X, y, args, *, caught):
    """One ``fit`` whose per-epoch callback drives the progress bar; Ctrl-C keeps the
    weights of the last finished epoch.

    ``caught`` is the list of recorded warnings: the estimator turns a Ctrl-C inside an
    epoch into a "Training interrupted by user." warning (as scikit-learn does).
    """
    from tqdm import tqdm

    held_out = holdout(
        X,
        y,
        fraction=args.validation_fraction,
        classification=is_classifier(model),
        seed=args.seed,
    )
    if held_out is not None:
        X, X_val, y, y_val = held_out
    timing = Timing(epochs=0, first=0.0, rest=0.0, n_samples=X.shape[0])
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
        if held_out is not None:
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
    if held_out is not None and timing.epochs:
        name = "accuracy" if is_classifier(model) else "R²"
        print(f"validation {name}: {model.score(X_val, y_val):.4f} ({X_val.shape[0]} samples)")
    return timing


def speed(timing, model):
    """The summary line of training times and speed.

    Parameters
    ----------
    timing : Timing
        What :func:`fit` measured.
    model : MLPClassifier or MLPRegressor
        The trained model.

    Returns
    -------
    str
        ``time: first epoch ... s; then ... ms/epoch over ... epochs, ... samples/s``.
    """
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
