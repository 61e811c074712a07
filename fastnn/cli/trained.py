"""A network with the feature (and target) scaling fitted with it: what ``--save`` writes.

``fastnn train --save`` writes a :class:`Trained` model with :func:`fastnn.save`, the
scaling in the file's ``extra`` arrays; ``fastnn predict`` reads it back with
:meth:`Trained.load`.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.base import is_classifier
from sklearn.preprocessing import StandardScaler


@dataclass
class Trained:
    """A network with the scaling fitted on its train set: what ``--save`` stores.

    :meth:`predict` and :meth:`score` take raw features, and targets on their own scale.

    Attributes
    ----------
    model : MLPClassifier or MLPRegressor
        The network, trained on standardised features (and targets, for regression).
    scaler : StandardScaler or None
        The feature scaling; ``None`` for a model saved from Python without scaling.
    y_mean, y_scale : float
        The regression target's mean and standard deviation on the train set (0 and 1
        for a classifier).
    feature_names : list of str or None
        The CSV columns the network was trained on, if any.
    """

    model: object
    scaler: StandardScaler = None
    y_mean: float = 0.0
    y_scale: float = 1.0
    feature_names: list = None

    def transform(self, X):
        """Features standardised as in training.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Raw features.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            The features the network takes.
        """
        return X if self.scaler is None else self.scaler.transform(X)

    def scale_target(self, y):
        """Regression targets standardised as in training; class labels unchanged.

        Parameters
        ----------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Targets on their own scale.

        Returns
        -------
        ndarray
            The targets the network is trained on.
        """
        if is_classifier(self.model):
            return y
        return (y - self.y_mean) / self.y_scale

    def predict(self, X):
        """Class labels, or targets on their original scale, for raw features ``X``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Raw features.

        Returns
        -------
        ndarray
            One prediction per row of ``X``.
        """
        out = self.model.predict(self.transform(X))
        if is_classifier(self.model):
            return out
        return out * self.y_scale + self.y_mean

    def score(self, X, y):
        """Accuracy, or R² (which standardising the target leaves unchanged).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Raw features.
        y : ndarray
            True labels, or targets on their own scale.

        Returns
        -------
        float
            The network's score.
        """
        return self.model.score(self.transform(X), self.scale_target(y))

    def save(self, path, seed):
        """Write the network with its scaling in the file's ``extra`` arrays.

        Parameters
        ----------
        path : str
            The model file (``.npz``).
        seed : int
            Replaces the network's ``random_state`` in its saved parameters.
        """
        from fastnn.io import save

        extra = {"target_mean": self.y_mean, "target_scale": self.y_scale}
        if self.scaler is not None:
            extra.update(feature_mean=self.scaler.mean_, feature_scale=self.scaler.scale_)
        if self.feature_names is not None:
            extra["feature_names"] = np.array(self.feature_names, dtype=str)
        save(self.model.set_params(random_state=seed), path, extra=extra)

    @classmethod
    def load(cls, path):
        """Read what :meth:`save` wrote (or a bare model saved by :func:`fastnn.save`).

        Parameters
        ----------
        path : str
            The model file.

        Returns
        -------
        Trained
            The network, with its scaling if the file holds one.
        """
        from fastnn.io import load_with_extra

        model, extra = load_with_extra(path)
        scaler = None
        if "feature_mean" in extra:
            scaler = StandardScaler()
            # The fitted state StandardScaler.transform reads: (X - mean_) / scale_.
            scaler.mean_, scaler.scale_ = extra["feature_mean"], extra["feature_scale"]
            scaler.var_ = scaler.scale_**2
            scaler.n_features_in_ = scaler.mean_.shape[0]
        names = extra.get("feature_names")
        return cls(
            model=model,
            scaler=scaler,
            y_mean=float(extra.get("target_mean", 0.0)),
            y_scale=float(extra.get("target_scale", 1.0)),
            feature_names=None if names is None else names.tolist(),
        )
