"""``MLPClassifier`` and ``MLPRegressor``: scikit-learn's API over fastnn's engines.

The estimators validate input, keep the fitted attributes scikit-learn users know, and
hand the arithmetic to the engines. What both share (fitting, the forward pass) is
:class:`fastnn._base.BaseMLP`; each lives in its own module (:mod:`fastnn.classifier`,
:mod:`fastnn.regressor`). They subclass only scikit-learn's public mixins
(``BaseEstimator``, ``ClassifierMixin``, ``RegressorMixin``), never its MLP.
"""

from fastnn.classifier import MLPClassifier
from fastnn.regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
