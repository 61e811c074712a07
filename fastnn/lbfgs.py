"""The L-BFGS driver: SciPy's L-BFGS-B on the full-batch loss and gradient, as
scikit-learn's ``_fit_lbfgs`` runs it, with either engine computing them."""

import warnings

import numpy as np
import scipy.optimize
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning

from fastnn import _codes as C
from fastnn import reference
from fastnn._blas_threads import fit_blas_threads
from fastnn._interrupt import deferred_interrupts
from fastnn.engine import BACKENDS, DivergenceWarning, kernel_array, user_callbacks
from fastnn.layout import pack, unpack, work_size


def fit_lbfgs(est, X, Y, sw):
    """Train ``est`` with SciPy's L-BFGS-B on the full-batch loss and gradient."""
    engine = BACKENDS[est.backend]
    if scipy.sparse.issparse(X):
        # Sparse X (CSR, from BaseMLP._fit): the full-batch products are SciPy's, in
        # either engine.
        engine = reference
    sizes, dtype = est._sizes, X.dtype
    network = (sizes, est._codes)
    theta = pack(est.coefs_, est.intercepts_, dtype)
    grad = np.zeros_like(theta)
    if engine is reference:  # NumPy allocates as it goes
        work = np.zeros(0, dtype=dtype)
    else:
        work = np.zeros(work_size(sizes, X.shape[0], gather=False), dtype=dtype)
    X = X if scipy.sparse.issparse(X) else kernel_array(X)
    Y = kernel_array(Y)
    sw = np.ones(X.shape[0], dtype=dtype) if sw is None else kernel_array(sw)
    scalars = C.new_scalars()
    scalars[0][C.ALPHA] = est.alpha
    start = theta.copy()
    best = {"loss": np.inf, "x": None}  # the lowest finite loss seen, kept if lbfgs diverges

    def loss_and_grad(x):
        theta[:] = x
        with np.errstate(all="ignore"):  # overflow is reported as divergence below
            loss = float(engine.batch_loss_grad(X, Y, sw, network, theta, grad, scalars, work))
        if loss < best["loss"]:
            best["loss"], best["x"] = loss, x.copy()
        return loss, grad.astype(np.float64)

    callbacks = user_callbacks(est)

    def after_iteration(intermediate_result):
        """The user's callbacks after each lbfgs iteration, and Ctrl-C (SciPy stops on
        StopIteration)."""
        if interrupt["hit"]:
            raise StopIteration
        if not callbacks:
            return
        est.n_iter_ = getattr(est, "n_iter_", 0) + 1
        est.loss_ = float(intermediate_result.fun)
        est.coefs_, est.intercepts_ = unpack(intermediate_result.x.astype(dtype), sizes)
        info = {"epoch": est.n_iter_, "loss": est.loss_, "validation_score": None,
                "validation_loss": None, "learning_rate": None}  # fmt: skip
        if any([bool(callback(est, info)) for callback in callbacks]):
            raise StopIteration

    est.n_iter_ = 0
    with fit_blas_threads(), deferred_interrupts() as interrupt:
        result = scipy.optimize.minimize(
            loss_and_grad,
            theta.astype(np.float64),
            method="L-BFGS-B",
            jac=True,
            callback=after_iteration,
            options={"maxfun": est.max_fun, "maxiter": est.max_iter, "gtol": est.tol},
        )
    if interrupt["hit"]:
        warnings.warn("Training interrupted by user.", stacklevel=3)
    est.n_iter_ = min(result.nit, est.max_iter)
    theta[:] = result.x
    est.loss_ = float(result.fun)
    if not (np.isfinite(est.loss_) and np.all(np.isfinite(theta))):
        if best["x"] is None:
            theta[:] = start
            est.loss_ = float(result.fun)
            kept = "No loss was finite, so the initial weights were kept"
        else:
            theta[:] = best["x"]
            est.loss_ = float(best["loss"])
            kept = f"The weights with the lowest finite loss ({est.loss_}) were kept"
        warnings.warn(
            f"Training diverged: lbfgs ended with a loss of {result.fun}. {kept}. Scale the "
            "input data, or try a larger alpha.",
            DivergenceWarning,
            stacklevel=3,
        )
    elif result.status not in (0, 99):  # 99: a callback or Ctrl-C asked to stop
        message = (
            f"lbfgs failed to converge after {est.n_iter_} iteration(s) "
            f"(status={result.status}):\n{result.message}\n"
        )
        if est.n_iter_ >= est.max_iter:
            message += (
                f"\nIncrease the number of iterations to improve the convergence "
                f"(max_iter={est.max_iter})."
            )
        warnings.warn(message, ConvergenceWarning, stacklevel=3)
    est.coefs_, est.intercepts_ = unpack(theta, sizes)
