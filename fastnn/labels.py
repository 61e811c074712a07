"""Class labels for :class:`~fastnn.MLPClassifier`: checked, encoded, and weighed.

:func:`label_array` accepts the labels scikit-learn's label tools accept (and object
arrays of numbers), :func:`label_binarizer` fits the ``LabelBinarizer`` that maps them
to output units and back, :func:`one_hot` encodes the targets the network is trained
on, and :func:`class_sample_weights` turns ``class_weight`` into one weight per sample.
:func:`check_known_classes` and :func:`first_partial_fit_call` check the labels of a
later ``fit`` (``warm_start``) or ``partial_fit`` against the classes already known.
"""

import numpy as np
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import unique_labels


def label_array(labels, owner):
    """Class labels as an array scikit-learn's label tools accept.

    An object array must hold only strings or only numbers, and one of numbers becomes
    a numeric array.

    Parameters
    ----------
    labels : array-like
        The class labels (1-D), or a label-indicator matrix (2-D).
    owner : str
        The estimator's class name, for the error message.

    Returns
    -------
    ndarray
        The labels.

    Raises
    ------
    ValueError
        If the labels mix strings and numbers.
    """
    labels = np.asarray(labels)
    if labels.dtype != object:
        return labels
    kinds = {"strings" if isinstance(v, str) else "numbers" for v in labels.ravel()}
    if len(kinds) > 1:
        raise ValueError(
            f"{owner} got class labels that mix strings and numbers: "
            f"{sorted(set(labels.ravel().tolist()), key=str)[:5]}. Labels must be all "
            "strings or all numbers."
        )
    return np.asarray(labels.tolist()) if kinds == {"numbers"} else labels


def label_binarizer(labels):
    """A ``LabelBinarizer`` fitted to the class labels.

    One class is fitted as scikit-learn's MLP fits it: a single output unit whose target
    is 0 for every sample, and ``predict`` always returns that class.

    1-D labels are fitted through their distinct values: the same target type and
    classes (``type_of_target`` of a 1-D array depends only on its distinct values), in
    about half the time for a data set of a few thousand labels. 1-D integer labels skip
    the fit, whose checks cost about 0.3 ms a call: their type is ``'binary'`` (at most
    two classes) or ``'multiclass'``, and their classes the sorted distinct values, as
    the fit would find (``tests/test_validation.py`` compares the two). Labels the
    binarizer refuses are fitted again as they are, so that its message quotes them.

    Parameters
    ----------
    labels : ndarray
        The class labels (1-D), or a label-indicator matrix (2-D).

    Returns
    -------
    sklearn.preprocessing.LabelBinarizer
        The fitted binarizer.

    Raises
    ------
    ValueError
        If the labels are not class labels.
    """
    labels = np.asarray(labels)
    if labels.ndim == 1 and labels.dtype.kind in "iu" and labels.size:
        binarizer = LabelBinarizer()
        classes = np.unique(labels)
        binarizer.classes_ = classes.astype(classes.dtype.newbyteorder("="), copy=False)
        binarizer.y_type_ = "multiclass" if len(binarizer.classes_) > 2 else "binary"
        binarizer.sparse_input_ = False
    else:
        try:
            binarizer = LabelBinarizer().fit(np.unique(labels) if labels.ndim == 1 else labels)
        except (TypeError, ValueError):
            binarizer = LabelBinarizer().fit(labels)
    return binarizer


def check_known_classes(y, known, *, warm_start):
    """Refuse labels of classes the model does not know.

    Parameters
    ----------
    y : ndarray
        The labels of a later ``fit`` (with ``warm_start``) or ``partial_fit``.
    known : ndarray
        The classes the model was fitted with (``classes_``).
    warm_start : bool
        Whether this is a ``fit`` with ``warm_start``: then ``y`` must hold exactly the
        known classes; otherwise (``partial_fit``) a subset of them.

    Raises
    ------
    ValueError
        If ``y`` holds other classes.
    """
    if isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "biu":
        # What unique_labels returns for integer labels (a binary or multiclass
        # target), without its checks of the target's type: 80 us, a fifth of a
        # partial_fit call on 64 rows.
        classes = np.unique(y)
    else:
        classes = unique_labels(y)
    if warm_start:
        if set(classes) != set(known):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in the "
                f"previous call to fit. Previously got {known}, `y` has {classes}"
            )
    elif len(np.setdiff1d(classes, known, assume_unique=True)):
        raise ValueError(
            f"`y` has classes not in `self.classes_`. `self.classes_` has {known}. 'y' has "
            f"{classes}."
        )


def first_partial_fit_call(est, classes):
    """Whether this is the first ``partial_fit``; sets ``classes_`` from ``classes``.

    Parameters
    ----------
    est : MLPClassifier
        The estimator.
    classes : ndarray or None
        The ``classes`` argument of ``partial_fit``.

    Returns
    -------
    bool
        Whether ``est`` had no classes before this call.

    Raises
    ------
    ValueError
        If the first call has no ``classes``, or a later one other classes.
    """
    if getattr(est, "classes_", None) is None and classes is None:
        raise ValueError("classes must be passed on the first call to partial_fit.")
    if classes is not None:
        if getattr(est, "classes_", None) is not None:
            if not np.array_equal(est.classes_, unique_labels(classes)):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                    f"was: {est.classes_!r}"
                )
        else:
            est.classes_ = unique_labels(classes)
            return True
    return False


def one_hot(binarizer, y):
    """One-hot targets (one column for two classes), as ``LabelBinarizer.transform``
    writes them.

    Computed directly for 1-D labels, which skips the binarizer's checks of the labels
    (already validated) and costs a fit of a small data set little.

    Parameters
    ----------
    binarizer : sklearn.preprocessing.LabelBinarizer
        The fitted binarizer.
    y : ndarray
        The labels, or a label-indicator matrix.

    Returns
    -------
    ndarray of bool, shape (n_samples, n_outputs)
        The targets of the output units.
    """
    classes = binarizer.classes_
    if binarizer.y_type_ == "binary" and np.ndim(y) == 1:
        if len(classes) == 1:  # scikit-learn's target for one class: 0 everywhere
            return np.zeros((len(y), 1), dtype=bool)
        return (y == classes[1]).reshape(-1, 1)
    if binarizer.y_type_ == "multiclass" and np.ndim(y) == 1:
        return y[:, None] == classes[None, :]
    return binarizer.transform(y).astype(bool)


def class_sample_weights(class_weight, y, *, classes, y_type, incremental, dtype):
    """The weight of each sample's class.

    Parameters
    ----------
    class_weight : dict or 'balanced'
        The classifier's ``class_weight``: a dict of weights (classes it leaves out
        weigh 1), or ``'balanced'``, weights inversely proportional to the frequencies.
    y : ndarray of shape (n_samples,)
        The labels.
    classes : ndarray
        The classifier's ``classes_``.
    y_type : str
        The target type (``LabelBinarizer.y_type_``).
    incremental : bool
        Whether the weights are for ``partial_fit``, which sees one batch at a time.
    dtype : numpy.dtype
        The dtype of the weights.

    Returns
    -------
    ndarray of shape (n_samples,)
        The weights.

    Raises
    ------
    ValueError
        If ``class_weight`` is neither a dict nor ``'balanced'``, names unknown classes,
        or cannot apply (multilabel targets; ``'balanced'`` in ``partial_fit``).
    """
    if y_type == "multilabel-indicator":
        raise ValueError("class_weight is not supported for multilabel targets.")
    if incremental and class_weight == "balanced":
        raise ValueError(
            "class_weight='balanced' is not supported for partial_fit: the class "
            "frequencies of one batch are not those of the data. Pass a dict instead."
        )
    if isinstance(class_weight, dict):
        unknown = set(class_weight) - set(classes.tolist())
        if unknown:
            raise ValueError(
                f"class_weight has labels {sorted(unknown, key=str)} that are not among "
                f"the classes {classes.tolist()}."
            )
    elif class_weight != "balanced":
        raise ValueError(
            "The 'class_weight' parameter of MLPClassifier must be None, 'balanced' or "
            f"a dict mapping classes to weights. Got {class_weight!r} instead."
        )
    if isinstance(class_weight, dict):
        # Classes the dict leaves out weigh 1; a batch need not hold every class.
        per_class = np.array([class_weight.get(c, 1.0) for c in classes.tolist()])
        return per_class[np.searchsorted(classes, y)].astype(dtype)
    return compute_sample_weight(class_weight, y).astype(dtype)
