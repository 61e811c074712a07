"""Export to ONNX through skl2onnx's own MLP converters (the ``onnx`` extra).

``skl2onnx.to_onnx(model, X[:1])`` converts a fastnn model as it converts scikit-learn's:
fastnn's estimators are registered with skl2onnx's converters and shape calculators for
``MLPClassifier`` and ``MLPRegressor``, which read the fitted attributes both libraries
share (``coefs_``, ``intercepts_``, ``activation``, ``out_activation_``, ``classes_``).
No converter is written here.

skl2onnx takes almost a second to import, so ``import fastnn`` does not import it: it
registers the estimators when skl2onnx is imported (at once if it already is), through
a finder on ``sys.meta_path`` that wraps that one module's loader (it is inert
afterwards, and finds nothing for any other module). :func:`register` does it by hand.
"""

import importlib.abc
import sys
import warnings

# The hidden and output activations skl2onnx's MLP converter knows.
ONNX_ACTIVATIONS = frozenset({"identity", "logistic", "tanh", "relu"})
ONNX_OUTPUTS = frozenset({"identity", "logistic", "softmax"})


def _checked(convert):
    """skl2onnx's converter ``convert``, after a check that it can express the model."""

    def convert_fastnn(scope, operator, container):
        model = operator.raw_operator
        if model.activation not in ONNX_ACTIVATIONS or model.out_activation_ not in ONNX_OUTPUTS:
            raise ValueError(
                f"skl2onnx's MLP converter has no activation {model.activation!r} or output "
                f"activation {model.out_activation_!r} (it has {sorted(ONNX_ACTIVATIONS)} "
                f"and {sorted(ONNX_OUTPUTS)})."
            )
        convert(scope, operator, container)

    return convert_fastnn


def register():
    """Register fastnn's estimators with skl2onnx's MLP converters.

    Called when skl2onnx is imported; calling it again does no harm.

    Raises
    ------
    ImportError
        If skl2onnx is not installed (``pip install fastnn[onnx]``).
    """
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )
    from skl2onnx.operator_converters.multilayer_perceptron import (
        convert_sklearn_mlp_classifier,
        convert_sklearn_mlp_regressor,
    )

    from fastnn.estimators import MLPClassifier, MLPRegressor

    update_registered_converter(
        MLPClassifier,
        "FastnnMLPClassifier",
        calculate_linear_classifier_output_shapes,
        _checked(convert_sklearn_mlp_classifier),
        # scikit-learn's MLP classifier's options, which the default parser reads
        options={
            "zipmap": [True, False, "columns"],
            "output_class_labels": [False, True],
            "nocl": [True, False],
        },
    )
    update_registered_converter(
        MLPRegressor,
        "FastnnMLPRegressor",
        calculate_linear_regressor_output_shapes,
        _checked(convert_sklearn_mlp_regressor),
    )


def _register_or_warn():
    try:
        register()
    except Exception as exc:  # an incompatible skl2onnx must not break its import
        warnings.warn(
            f"fastnn could not register its estimators with skl2onnx: {exc}", stacklevel=3
        )


class _RegisteringLoader(importlib.abc.Loader):
    """skl2onnx's own loader, and then :func:`register` once the module has run."""

    def __init__(self, loader, finder):
        self._loader, self._finder = loader, finder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        if not self._finder.done:
            self._finder.done = True
            _register_or_warn()

    def __getattr__(self, name):  # the rest of the loader's interface (resources ...)
        return getattr(self._loader, name)


class _OnImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: the spec of ``skl2onnx`` that the other finders give gets a
    loader that runs :func:`register` after the module (a spec that is only looked at,
    ``importlib.util.find_spec``, changes nothing). Inert once it has registered."""

    def __init__(self):
        self.done = False

    def find_spec(self, name, path=None, target=None):
        if name != "skl2onnx" or self.done:
            return None
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader, self)
        return spec


def register_on_import():
    """Register now if skl2onnx is imported, else when it is (see the module)."""
    if "skl2onnx" in sys.modules:
        _register_or_warn()
    elif not any(isinstance(finder, _OnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _OnImport())
