"""The stochastic driver: sgd, adam, adamw and rmsprop, epoch by epoch.

Buffers are allocated once per fit; an engine (:mod:`fastnn.engine`) runs the epochs,
one call at a time, and Python records each epoch, scores the held-out set, calls the
callbacks and stops. Each epoch's shuffle continues the Mersenne Twister stream of
scikit-learn's random generator with the same draws as ``sklearn.utils.shuffle``, so
that both engines and scikit-learn see the same mini-batches.

The stopping rules, learning-rate schedules and early stopping follow scikit-learn's
``BaseMultilayerPerceptron._fit_stochastic`` step for step (scikit-learn 1.9,
``sklearn/neural_network/_multilayer_perceptron.py``); they are re-implemented here.
"""

import warnings

import numpy as np
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from fastnn import _codes as C
from fastnn import _random, reference
from fastnn._blas_threads import fit_blas_threads
from fastnn._interrupt import deferred_interrupts
from fastnn._workers import EpochCalls
from fastnn.engine import (
    BACKENDS,
    DivergenceWarning,
    kernel_array,
    kernel_input,
    new_parameters,
    predict_output,
    user_callbacks,
)
from fastnn.layout import aligned_zeros, pack, unpack, work_size


class OptimizerState:
    """What a stochastic solver carries between epochs and ``partial_fit`` calls.

    Attributes
    ----------
    state : ndarray
        The solver's moment vectors (``[velocity]`` for sgd, ``[m, v]`` for adam and
        adamw, ``[v]`` for rmsprop) then ``saved``, each flat in parameter layout;
        ``saved`` holds the weights at the start of the current epoch, restored if the
        epoch diverges.
    scalars : tuple of ndarray
        ``(hyper, counts)``: the float64 and int64 vectors of :mod:`fastnn._codes`
        slots, ``hyper`` followed by one dropout rate per hidden layer.
    """

    def __init__(self, est, n, dtype):
        solver = C.SOLVERS[est.solver]
        self.state = np.zeros((C.MOMENTS[solver] + 1) * n, dtype=dtype)
        n_hidden = len(est._sizes) - 2
        self.scalars = C.new_scalars(n_hidden)
        hyper, counts = self.scalars
        hyper[C.LR] = hyper[C.LR_INIT] = hyper[C.RATE] = est.learning_rate_init
        counts[C.N_WEIGHTS] = sum(int(a) * int(b) for a, b in zip(est._sizes[:-1], est._sizes[1:]))
        hyper[C.MOMENTUM] = est.momentum
        counts[C.NESTEROV] = bool(est.nesterovs_momentum)
        hyper[C.BETA_1], hyper[C.BETA_2], hyper[C.EPSILON] = est.beta_1, est.beta_2, est.epsilon

    @property
    def learning_rate(self):
        return float(self.scalars[0][C.LR])


def batch_size_for(est, n_samples):
    """scikit-learn's rule: ``'auto'`` is ``min(200, n)``; a number is clipped to ``[1, n]``."""
    if est.batch_size == "auto":
        return min(200, n_samples)
    if est.batch_size > n_samples:
        warnings.warn(
            "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
            stacklevel=4,
        )
    return int(np.clip(est.batch_size, 1, n_samples))


def fit_stochastic(est, X, Y, sw, Y_split, incremental, initial_rng=None):
    """Train ``est`` with sgd or the Adam family; ``Y`` is the float target matrix and
    ``Y_split`` the array scikit-learn splits and stratifies on (the binarised labels).
    ``initial_rng`` is, for a fit that starts from new weights, the random generator's
    state they were drawn from (if every epoch diverges, they are drawn again).

    Memory: a new fit trains its initial weights in place, in the vector ``est.coefs_``
    views (:func:`fastnn.engine.new_parameters` drew them into it), beside one gradient
    vector and the optimizer's state; nothing else the size of the parameters is kept,
    except early stopping's best weights. A fit that continues from earlier weights
    (``partial_fit``, ``warm_start``) trains a copy of them and keeps another to fall
    back on, so that arrays a user holds from ``coefs_`` do not change.

    The loop: run a call's epochs (:class:`fastnn._workers.EpochCalls` chooses how
    many, and on how many threads), record them, score the held-out set, call the
    callbacks, and stop when the rules say so.
    """
    engine = BACKENDS[est.backend]
    sizes, codes, dtype = est._sizes, est._codes, X.dtype
    # A new fit trains in place the vector its initial weights were just drawn into: this
    # fit's engine.new_parameters made it, so its views are in the layout's order and
    # nobody else holds them (layout.flat_base's checks, 10 us, would only confirm it).
    # A fit that continues copies the weights it starts from.
    if initial_rng is None:
        theta = pack(est.coefs_, est.intercepts_, dtype)
        est.coefs_, est.intercepts_ = unpack(theta, sizes)
    else:
        theta = est.coefs_[0].base
    if not incremental or not hasattr(est, "_optimizer"):
        est._optimizer = OptimizerState(est, theta.shape[0], dtype)
    opt = est._optimizer
    opt.scalars[0][C.ALPHA] = est.alpha  # read afresh each call, as scikit-learn reads self.alpha
    if est.early_stopping and incremental:
        raise ValueError("partial_fit does not support early_stopping=True")
    early_stopping = est.early_stopping
    validation = None
    if early_stopping:
        X, Y, sw, validation = _hold_out(est, X, Y, sw, Y_split)

    n_samples = X.shape[0]
    sparse_input = scipy.sparse.issparse(X)
    X_in, Y = kernel_input(X, est.backend, training=True), kernel_array(Y)
    sw = np.ones(n_samples, dtype=dtype) if sw is None else kernel_array(sw)
    idx = np.arange(n_samples, dtype=np.int64)
    # np.zeros, not zeros_like: its pages are the system's zero pages until written,
    # and a sparse fit never writes most of the first layer's (fastnn/kernels/sparse.py).
    grad = np.zeros(theta.shape[0], dtype=dtype)
    s = _prepare_scalars(est, opt.scalars, batch_size_for(est, n_samples))
    hyper, counts = s
    batch_size = int(counts[C.BATCH_SIZE])
    work = aligned_zeros(work_size(sizes, batch_size, sparse=sparse_input), dtype)
    rng_state, gauss = _random.kernel_state(est._random_state)
    losses = np.empty(est.max_iter, dtype=np.float64)
    # To fall back on if every epoch diverges: the initial weights (drawn again from
    # initial_rng, not copied), or a copy of the weights this fit continues from.
    start = (theta.copy() if initial_rng is None else initial_rng, len(est.loss_curve_), est.t_)
    callbacks = user_callbacks(est)
    # Back to Python after every epoch when Python has work then; else several epochs
    # a call (fastnn/_workers.py), so that Ctrl-C stays responsive.
    one_at_a_time = incremental or early_stopping or bool(est.verbose) or bool(callbacks)
    calls = EpochCalls(
        engine, sizes, batch_size, n_samples, dtype=dtype, codes=codes,
        dropout=bool(np.any(hyper[C.DROPOUT :] > 0)), one_at_a_time=one_at_a_time,
        sparse_input=sparse_input,
    )  # fmt: skip
    arrays = ((X_in, Y, sw, idx), (sizes, codes), (theta, grad, opt.state), s, work, rng_state)

    with fit_blas_threads(), deferred_interrupts() as interrupt:
        try:
            est.n_iter_ = 0
            while est.n_iter_ < est.max_iter:
                rate = hyper[C.LR]
                done = calls.run(est.max_iter - est.n_iter_, *arrays, losses)
                if counts[C.STOP] == C.DIVERGED:
                    _diverged(est, losses[: done - 1], losses[done - 1], s, X, theta, start)
                    break
                _record_epochs(est, losses[:done], s)
                if early_stopping:
                    _early_stopping_update(est, validation, theta, s)
                if callbacks and _callbacks_stop(est, callbacks, s):
                    break
                if est.verbose:
                    _report_stopping(est, s, rate, early_stopping)
                if counts[C.STOP] == C.CONVERGED:
                    break
                if interrupt["hit"]:
                    raise KeyboardInterrupt
                if incremental:
                    break
            else:
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) reached and "
                    "the optimization hasn't converged yet.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=3)
        finally:
            _random.restore(est._random_state, rng_state, gauss)
            _store_stopping_state(est, s, early_stopping)
    if early_stopping:
        est.coefs_, est.intercepts_ = unpack(est._best_theta.copy(), sizes)


def _hold_out(est, X, Y, sw, Y_split):
    """scikit-learn's early-stopping split: the training part ``(X, Y, sw)`` and the
    held-out ``(X_val, y_val, Y_val, sw_val)``, stratified for single-output
    classifiers."""
    stratify = Y_split if (est._is_classifier and est.n_outputs_ == 1) else None
    arrays = (X, Y, Y_split) if sw is None else (X, Y, Y_split, sw)
    parts = train_test_split(
        *arrays,
        random_state=est._random_state,
        test_size=est.validation_fraction,
        stratify=stratify,
    )
    X, X_val, Y, Y_val_float, _, Y_val = parts[:6]
    sw_train, sw_val = (parts[6], parts[7]) if sw is not None else (None, None)
    if X_val.shape[0] < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the size "
            "of your dataset."
        )
    y_val = est._decode_targets(Y_val)
    return X, Y, sw_train, (X_val, y_val, Y_val_float, sw_val)


def _prepare_scalars(est, s, batch_size):
    """Fill the per-fit slots of ``scalars`` (``(hyper, counts)``) from ``est``'s parameters and
    its stopping state (which ``warm_start`` and ``partial_fit`` carry over)."""
    hyper, counts = s
    # alpha is read afresh each call, as scikit-learn reads self.alpha. AdamW moves it
    # out of the loss and gradient into a decoupled weight decay.
    decoupled = est.solver == "adamw"
    hyper[C.ALPHA] = 0.0 if decoupled else est.alpha
    hyper[C.WEIGHT_DECAY] = est.alpha if decoupled else 0.0
    counts[C.BATCH_SIZE] = batch_size
    counts[C.SHUFFLE] = bool(est.shuffle)
    schedule = C.SCHEDULES[est.learning_rate]
    if est.solver != "sgd" and schedule in (C.INVSCALING, C.ADAPTIVE):
        schedule = C.CONSTANT  # scikit-learn applies these to sgd only
    counts[C.SCHEDULE] = schedule
    counts[C.HORIZON] = est.max_iter if schedule == C.COSINE else max(1, est.max_iter // 3)
    hyper[C.POWER_T] = est.power_t
    rates = est._dropout_rates()
    hyper[C.DROPOUT : C.DROPOUT + len(rates)] = rates
    if any(rates):
        # Drawn only when dropout is on, so that scikit-learn's stream is untouched.
        counts[C.DROPOUT_SEED] = est._random_state.randint(0, 2**31 - 1)
    hyper[C.TOL] = est.tol
    hyper[C.N_ITER_NO_CHANGE] = est.n_iter_no_change
    counts[C.MONITOR] = not est.early_stopping
    hyper[C.BEST] = -est.best_validation_score_ if est.early_stopping else est.best_loss_
    counts[C.NO_IMPROVEMENT] = est._no_improvement_count
    counts[C.SEEN] = est.t_
    counts[C.STOP] = C.RUNNING
    return s


def _record_epochs(est, losses, s):
    """Append the epochs a call ran to the fitted attributes (at once: a loop over a
    call's 2,000 epochs of xor took 0.5 ms of its 2.6 ms fit)."""
    hyper, counts = s
    curve = losses.tolist()
    if est.verbose:
        for k, loss in enumerate(curve, start=est.n_iter_ + 1):
            print(f"Iteration {k}, loss = {loss:.8f}")
    if curve:
        est.n_iter_ += len(curve)
        est.loss_ = curve[-1]
        est.loss_curve_.extend(curve)
    est.t_ = int(counts[C.SEEN])


def _early_stopping_update(est, validation, theta, s):
    """Score the held-out set, record its loss, and apply the stopping rule to minus
    the score."""
    X_val, y_val, Y_val, sw_val = validation
    score = est._score(X_val, y_val, sample_weight=sw_val)
    est.validation_scores_.append(score)
    est.validation_loss_curve_.append(validation_loss(est, X_val, Y_val, sw_val))
    if est.verbose:
        print(f"Validation score: {score:f}")
    if score > est.best_validation_score_:
        est.best_validation_score_ = score
        est._best_theta = theta.copy()
    reference.epoch_end(s, -score)


def _report_stopping(est, s, rate, early_stopping):
    """scikit-learn's verbose messages about the adaptive rate and stopping."""
    hyper, counts = s
    what = "Validation score" if early_stopping else "Training loss"
    message = (
        f"{what} did not improve more than tol={est.tol:f} for {est.n_iter_no_change} "
        "consecutive epochs."
    )
    adaptive = counts[C.SCHEDULE] == C.ADAPTIVE
    if counts[C.STOP] == C.CONVERGED:
        print(message + (" Learning rate too small. Stopping." if adaptive else " Stopping."))
    elif adaptive and hyper[C.LR] != rate:
        print(message + f" Setting learning rate to {hyper[C.LR]:f}")


def _diverged(est, losses, bad_loss, s, X, theta, start):
    """Keep the epochs before the one whose loss was not finite, and say so.

    The kernel has put back the weights from the start of the diverged epoch. They come
    from an optimizer step whose loss nobody evaluated, so they are checked: if they are
    not finite, or give non-finite outputs on the training data, the weights from the
    start of this fit are kept instead, and the fit's epochs are dropped.
    """
    hyper, counts = s
    counts[C.SEEN] -= X.shape[0]  # the diverged epoch's weights were not kept
    _record_epochs(est, losses, s)
    del est._optimizer  # its moments hold non-finite values; partial_fit starts afresh
    kept = f"the weights from the end of epoch {est.n_iter_} were restored"
    with np.errstate(all="ignore"):
        usable = np.isfinite(theta).all() and np.isfinite(predict_output(est, X)).all()
    if not usable:
        weights, n_curve, est.t_ = start
        if not isinstance(weights, np.ndarray):  # the generator's seed or state
            drawn = new_parameters(est, theta.dtype, _random.generator_from(weights))
            weights = pack(*drawn, theta.dtype)
        theta[:] = weights
        del est.loss_curve_[n_curve:]
        est.n_iter_ = 0
        kept = "no epoch's weights gave finite outputs, so the weights from the start of "
        kept += "this fit were kept"
    if est.n_iter_ == 0:
        est.loss_ = float(bad_loss)  # no epoch was kept: the loss that diverged
    warnings.warn(
        f"Training diverged: the loss became {bad_loss} in epoch {est.n_iter_ + 1}. "
        f"Training stopped and {kept}. Try a smaller learning_rate_init (it is "
        f"{est.learning_rate_init}) or scale the input data.",
        DivergenceWarning,
        stacklevel=4,
    )


def validation_loss(est, X, Y, sw):
    """The training objective on held-out data: data term plus the L2 penalty."""
    sw = np.ones(X.shape[0], dtype=X.dtype) if sw is None else sw
    with np.errstate(all="ignore"):
        out = predict_output(est, X if scipy.sparse.issparse(X) else np.ascontiguousarray(X))
        loss = reference.output_loss(out, Y, sw, est._codes[C.OUTPUT])
    if est.solver != "adamw":
        loss += reference.penalty(est.coefs_, est.alpha, float(sw.sum()))
    return float(loss)


def _callbacks_stop(est, callbacks, s):
    """Call each callback with the model and the epoch's figures; any True stops."""
    hyper, counts = s
    info = {
        "epoch": est.n_iter_,
        "loss": est.loss_,
        "validation_score": est.validation_scores_[-1] if est.validation_scores_ else None,
        "validation_loss": (est.validation_loss_curve_[-1] if est.validation_loss_curve_ else None),
        # The scheduled rate: sgd's step size, the Adam family's rate before bias correction.
        "learning_rate": float(hyper[C.LR] if est.solver == "sgd" else hyper[C.RATE]),
    }
    stop = False
    for callback in callbacks:
        stop = bool(callback(est, info)) or stop
    return stop


def _store_stopping_state(est, s, early_stopping):
    hyper, counts = s
    est._no_improvement_count = int(counts[C.NO_IMPROVEMENT])
    if not early_stopping:
        est.best_loss_ = float(hyper[C.BEST])
