"""fastnn: multi-layer perceptrons trained fast on the CPU, from the math up."""

from fastnn._version import __version__
from fastnn._warmup import warmup
from fastnn.convert import from_sklearn, to_sklearn
from fastnn.engine import DivergenceWarning
from fastnn.estimators import MLPClassifier, MLPRegressor
from fastnn.io import load, save
from fastnn.onnx_export import register_on_import

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

# skl2onnx.to_onnx converts fastnn models once skl2onnx is imported (fastnn/onnx_export.py).
register_on_import()
