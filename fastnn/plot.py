"""One picture of a training run: decision regions (2-D classification) and learning curves.

matplotlib is an optional dependency (``pip install 'fastnn[plot]'``), imported only when
:func:`plot_training` runs. The figure is drawn on matplotlib's Agg canvas directly, without
pyplot: no window opens, and no global backend or state is changed.
"""

import os

import numpy as np
from sklearn.base import is_classifier

PLOT_EXTRA = "pip install 'fastnn[plot]'"
# Colours of the classes (matplotlib's "tab10"), cycled beyond ten classes.
_CLASS_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def _matplotlib():
    """matplotlib's ``Figure`` and Agg canvas, or an ImportError saying how to install it."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            f"Plotting needs matplotlib, an optional dependency of fastnn: {PLOT_EXTRA}"
        ) from None
    return Figure, FigureCanvasAgg


def has_matplotlib():
    """Whether matplotlib can be imported, so that :func:`plot_training` can run.

    Returns
    -------
    bool
        ``True`` if ``import matplotlib`` succeeds.
    """
    try:
        _matplotlib()
    except ImportError:
        return False
    return True


def plot_training(
    model,
    X,
    y,
    path,
    *,
    validation_scores=None,
    feature_names=None,
    title=None,
    figsize=None,
    dpi=100,
    resolution=200,
):
    """Write one PNG showing how ``model`` learned, and what it learned on 2-D data.

    For a classifier on two features, the left panel shades the decision regions over a
    grid spanning ``X`` and draws the points coloured by class; the right panel (the only
    one otherwise) plots the training loss per epoch, the validation loss if the model
    has a ``validation_loss_curve_``, and the validation score on a second axis.

    Parameters
    ----------
    model : MLPClassifier, MLPRegressor, or Pipeline ending in one
        The fitted model. The curves are read from the network (the last step of a
        pipeline); the regions come from the whole pipeline's ``predict``, so a pipeline
        whose first step is a scaler draws them in the units of ``X``.
    X : array-like of shape (n_samples, n_features)
        The points to draw, as ``model`` takes them.
    y : array-like of shape (n_samples,)
        Their targets.
    path : str or path-like
        The PNG file to write.
    validation_scores : sequence of float, default=None
        The validation score after each epoch; ``None`` takes the network's
        ``validation_scores_`` (set by ``early_stopping=True``), if any.
    feature_names : sequence of str, default=None
        Labels of the two axes of the regions; ``None`` takes the model's
        ``feature_names_in_`` if it has them, else ``'feature 0'`` and ``'feature 1'``.
    title : str, default=None
        A title above the panels.
    figsize : (float, float), default=None
        Size in inches; ``None`` gives ``(11, 4.5)`` with regions and ``(6, 4.5)`` without.
    dpi : int, default=100
        Pixels per inch: the image is ``figsize[0] * dpi`` by ``figsize[1] * dpi`` pixels.
    resolution : int, default=200
        Grid points along each axis of the decision regions.

    Returns
    -------
    path : str
        The file written.

    Raises
    ------
    ImportError
        If matplotlib is not installed; the message says ``pip install 'fastnn[plot]'``.
    """
    Figure, FigureCanvasAgg = _matplotlib()
    network = model[-1] if hasattr(model, "steps") else model
    X = np.asarray(X)
    y = np.asarray(y)
    regions = _draws_regions(network, X, y)
    if figsize is None:
        figsize = (11, 4.5) if regions else (6, 4.5)
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    if regions:
        region_ax, curve_ax = fig.subplots(1, 2, width_ratios=(1, 1.15))
        if feature_names is None:
            feature_names = getattr(model, "feature_names_in_", ["feature 0", "feature 1"])
        _plot_regions(region_ax, model, network, X, y, resolution, feature_names)
    else:
        curve_ax = fig.subplots()
    if validation_scores is None:
        validation_scores = getattr(network, "validation_scores_", None)
    _plot_curves(curve_ax, network, validation_scores)
    if title:
        fig.suptitle(title)
    path = os.fspath(path)
    fig.savefig(path, dpi=dpi, format="png")
    return path


def _draws_regions(network, X, y):
    """Regions are drawn for single-label classification of two features."""
    return is_classifier(network) and X.ndim == 2 and X.shape[1] == 2 and y.ndim == 1


def _plot_regions(ax, model, network, X, y, resolution, names):
    margin = 0.1 * np.ptp(X, axis=0) + 1e-9
    low, high = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(
        np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)
    )
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    classes = network.classes_
    # classes_ is sorted (np.unique), so searchsorted gives each label's index.
    Z = np.searchsorted(classes, model.predict(grid)).reshape(xx.shape)
    colors = [_CLASS_COLORS[k % len(_CLASS_COLORS)] for k in range(len(classes))]
    levels = np.arange(len(classes) + 1) - 0.5
    ax.contourf(xx, yy, Z, levels=levels, colors=colors, alpha=0.3)
    ax.contour(xx, yy, Z, levels=levels[1:-1], colors="k", linewidths=0.8)
    index = np.searchsorted(classes, y)
    for k, label in enumerate(classes):
        mask = index == k
        ax.scatter(
            X[mask, 0],
            X[mask, 1],
            s=12,
            c=colors[k],
            edgecolors="k",
            linewidths=0.3,
            label=str(label),
        )
    ax.set(xlabel=str(names[0]), ylabel=str(names[1]), title="decision regions")
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.legend(title="class", loc="best", fontsize="small")


def _plot_curves(ax, network, validation_scores):
    loss_curve = getattr(network, "loss_curve_", None)
    validation_loss = getattr(network, "validation_loss_curve_", None)
    ax.set(title="training curves", xlabel="epoch", ylabel="loss")
    if not _has_values(loss_curve):
        loss = getattr(network, "loss_", float("nan"))
        ax.text(
            0.5,
            0.5,
            f"{network.solver} keeps no loss per epoch\nfinal loss {loss:.4g}",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        return
    lines = []
    epochs = np.arange(1, len(loss_curve) + 1)
    lines += ax.plot(epochs, loss_curve, color="C0", label="training loss")
    if _has_values(validation_loss):
        lines += ax.plot(
            np.arange(1, len(validation_loss) + 1),
            validation_loss,
            color="C1",
            label="validation loss",
        )
    if _has_values(validation_scores):
        what = "accuracy" if is_classifier(network) else "R²"
        score_ax = ax.twinx()
        lines += score_ax.plot(
            np.arange(1, len(validation_scores) + 1),
            validation_scores,
            color="C2",
            linestyle="--",
            label=f"validation {what}",
        )
        score_ax.set_ylabel(f"validation {what}")
    ax.grid(alpha=0.3)
    # Below the axes: inside, it would hide a curve of one axis or the other.
    ax.legend(
        lines,
        [line.get_label() for line in lines],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncols=len(lines),
        frameon=False,
    )


def _has_values(curve):
    """Whether ``curve`` (a list, an array or ``None``) holds any value."""
    return curve is not None and len(curve) > 0
