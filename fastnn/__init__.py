"""fastnn: multi-layer perceptrons trained fast on the CPU, from the math up."""

from fastnn._warmup import warmup
from fastnn.engine import DivergenceWarning
from fastnn.estimators import MLPClassifier, MLPRegressor
from fastnn.io import load, save

__version__ = "0.1.0"

__all__ = [
    "DivergenceWarning",
    "MLPClassifier",
    "MLPRegressor",
    "__version__",
    "load",
    "save",
    "warmup",
]
