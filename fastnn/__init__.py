"""fastnn: multi-layer perceptrons trained fast on the CPU, from the math up."""

from fastnn._version import __version__
from fastnn._warmup import warmup
from fastnn.convert import from_sklearn, to_sklearn
from fastnn.engine import DivergenceWarning
from fastnn.estimators import MLPClassifier, MLPRegressor
from fastnn.io import load, save

__all__ = [
    "DivergenceWarning",
    "MLPClassifier",
    "MLPRegressor",
    "__version__",
    "from_sklearn",
    "load",
    "save",
    "to_sklearn",
    "warmup",
]
