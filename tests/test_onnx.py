"""Export to ONNX (``fastnn/onnx_export.py``): ``skl2onnx.to_onnx`` converts fastnn's
estimators with skl2onnx's own MLP converters, and onnxruntime's results are fastnn's
to 1e-5 in float32."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification, make_moons, make_regression

import fastnn

skl2onnx = pytest.importorskip("skl2onnx", reason="the onnx extra: pip install 'fastnn[onnx]'")
rt = pytest.importorskip("onnxruntime", reason="the onnx extra: pip install 'fastnn[onnx]'")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X, y = make_moons(150, noise=0.2, random_state=0)
X3, y3 = make_classification(150, 6, n_informative=4, n_classes=3, random_state=0)
Xr, yr = make_regression(150, 5, random_state=0)
yr = yr / 100
QUICK = {"hidden_layer_sizes": (16, 8), "max_iter": 20, "random_state": 0}


def _run(model, X):
    options = {"zipmap": False} if isinstance(model, fastnn.MLPClassifier) else None
    onx = skl2onnx.to_onnx(model, X[:1].astype(np.float32), options=options)
    session = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X.astype(np.float32)})


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    ("A", "target", "settings"),
    [
        (X, y, {}),
        (X3, y3, {"activation": "tanh"}),
        (X, np.array(["no", "yes"])[y], {"activation": "logistic"}),
        (X3, y3, {"solver": "adamw", "dropout": 0.1}),
    ],
    ids=["binary", "multiclass-tanh", "strings-logistic", "adamw-dropout"],
)
def test_classifier_runs_in_onnxruntime(A, target, settings, dtype):
    model = fastnn.MLPClassifier(**QUICK, **settings, dtype=dtype).fit(A, target)
    labels, proba = _run(model, A)
    np.testing.assert_allclose(proba, model.predict_proba(A), atol=1e-5)
    assert_array_equal(labels, model.predict(A))


@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_regressor_runs_in_onnxruntime(activation):
    model = fastnn.MLPRegressor(**QUICK, activation=activation).fit(Xr, yr)
    (out,) = _run(model, Xr)
    np.testing.assert_allclose(out.ravel(), model.predict(Xr), atol=1e-5, rtol=1e-5)


def test_an_activation_onnx_lacks_is_refused_by_name():
    model = fastnn.MLPClassifier(**QUICK, activation="leaky_relu").fit(X, y)
    with pytest.raises(ValueError, match="no activation 'leaky_relu'"):
        _run(model, X)


IMPORTS = {
    "fastnn first": "import fastnn\nassert 'skl2onnx' not in sys.modules\nimport skl2onnx",
    "skl2onnx first": "import skl2onnx\nimport fastnn",
    # a probe for the optional dependency before the import changes nothing
    "probed first": (
        "import importlib.util\nimport fastnn\nassert importlib.util.find_spec('skl2onnx')\n"
        "assert 'skl2onnx' not in sys.modules\nimport skl2onnx"
    ),
}


@pytest.mark.parametrize("order", list(IMPORTS))
def test_registered_whichever_is_imported_first(order):
    # A new process: here both are imported already. Importing fastnn must not import
    # skl2onnx (almost a second).
    imports = IMPORTS[order]
    script = textwrap.dedent(
        """
        import sys
        import warnings
        {imports}
        import numpy as np
        from sklearn.exceptions import ConvergenceWarning
        warnings.simplefilter("ignore", ConvergenceWarning)
        X = np.random.RandomState(0).rand(20, 3)
        model = fastnn.MLPRegressor(hidden_layer_sizes=(4,), max_iter=2).fit(X, X[:, 0])
        onx = skl2onnx.to_onnx(model, X[:1].astype(np.float32))
        print(len(onx.graph.node))
        """
    ).format(imports=imports)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "could not register" not in done.stderr
    assert int(done.stdout.split()[-1]) > 0
