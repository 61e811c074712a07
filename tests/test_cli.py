"""The ``fastnn`` command, run in-process through ``main`` (and once as ``python -m``)."""

import re
import subprocess
import sys

import numpy as np
import pytest

from fastnn import datasets
from fastnn.cli import main


def _run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _score(out, line):
    """The number printed after ``line:``, e.g. ``test accuracy: 0.9760``."""
    match = re.search(rf"^{re.escape(line)}:\s+(-?[0-9.]+)$", out, flags=re.MULTILINE)
    assert match, f"no {line!r} line in:\n{out}"
    return float(match.group(1))


def test_train_xor_uses_all_data(capsys):
    status, out, err = _run(capsys, "train", "--dataset", "xor", "--epochs", "5")
    assert status == 0, err
    assert "no split" in out
    assert "train and test on all 4 samples" in out
    assert 0 <= _score(out, "train accuracy") <= 1
    assert 0 <= _score(out, "test accuracy") <= 1
    assert "ms/epoch" in out and "samples/s" in out


def test_train_xor_lbfgs_solves_it(capsys):
    status, out, err = _run(capsys, "train", "--dataset", "xor", "--solver", "lbfgs")
    assert status == 0, err
    assert _score(out, "test accuracy") == 1.0
    assert "ms/iteration" in out


def test_train_moons_few_epochs(capsys):
    argv = ["train", "--dataset", "moons", "--n-samples", "200", "--epochs", "10"]
    status, out, err = _run(capsys, *argv, "--hidden", "16", "--batch-size", "16", "--lr", "0.01")
    assert status == 0, err
    assert "train 150 / test 50 (stratified split)" in out
    assert "hidden=16 " in out
    assert "batch_size=16 " in out
    assert 0.8 < _score(out, "test accuracy") <= 1
    assert "fastnn: warning" not in err


def test_train_moons_defaults_reach_95_percent(capsys):
    status, out, err = _run(capsys, "train", "--dataset", "moons")
    assert status == 0, err
    assert _score(out, "test accuracy") > 0.95


def test_train_is_reproducible(capsys):
    argv = ["train", "--dataset", "spirals", "--epochs", "5", "--seed", "7"]
    first = _run(capsys, *argv)[1]
    second = _run(capsys, *argv)[1]
    scores = ("train accuracy", "test accuracy", "final loss")
    assert [_score(first, s) for s in scores] == [_score(second, s) for s in scores]


def test_train_regression_reports_r2(capsys):
    status, out, err = _run(capsys, "train", "--dataset", "diabetes", "--epochs", "20")
    assert status == 0, err
    assert "MLPRegressor" in out
    assert "features and target standardised" in out
    assert _score(out, "train R²") > 0.3
    assert "test R²" in out


def test_train_validation_fraction(capsys):
    argv = ["train", "--dataset", "iris", "--epochs", "5", "--validation-fraction", "0.2"]
    status, out, err = _run(capsys, *argv)
    assert status == 0, err
    assert "validation accuracy" in out


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_train_numpy_backend_float32(capsys, solver):
    argv = ["train", "--dataset", "blobs", "--epochs", "3", "--batch-size", "32"]
    status, out, err = _run(
        capsys, *argv, "--solver", solver, "--backend", "numpy", "--dtype", "float32"
    )
    assert status == 0, err
    assert "backend=numpy dtype=float32" in out


def _write_csv(path, X, labels, header="x1,x2,label"):
    lines = [header] + [f"{a!r},{b!r},{t}" for (a, b), t in zip(X.tolist(), labels)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_csv_with_string_labels(capsys, tmp_path):
    X, y = datasets.load("moons", n_samples=200)
    path = _write_csv(tmp_path / "moons.csv", X, np.array(["left", "right"])[y])
    argv = ["train", "--csv", str(path), "--target", "label", "--epochs", "30"]
    status, out, err = _run(capsys, *argv)
    assert status == 0, err
    assert "moons.csv: 200 samples, 2 features, 2 classes" in out
    assert _score(out, "test accuracy") > 0.7


def test_train_csv_real_target_is_regression(capsys, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    path = _write_csv(tmp_path / "reg.csv", X, (X[:, 0] - 2 * X[:, 1]).tolist(), "a,b,t")
    status, out, err = _run(capsys, "train", "--csv", str(path), "--target", "t", "--epochs", "5")
    assert status == 0, err
    assert "regression" in out and "test R²" in out


def test_train_warnings_are_one_line_each(capsys):
    argv = ["train", "--dataset", "xor", "--solver", "lbfgs", "--epochs", "1"]
    status, out, err = _run(capsys, *argv)
    assert status == 0
    assert err.startswith("fastnn: warning: lbfgs failed to converge after 1 iteration")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "required: COMMAND"),
        (["train"], "one of the arguments --dataset --csv is required"),
        (["train", "--dataset", "mnist"], "invalid choice: 'mnist'"),
        (["train", "--dataset", "xor", "--hidden", "abc"], "positive layer sizes"),
        (["train", "--dataset", "xor", "--hidden", "64,0"], "positive layer sizes"),
        (["train", "--dataset", "xor", "--epochs", "0"], "positive integer"),
        (["train", "--dataset", "xor", "--lr", "-1"], "positive number"),
        (["train", "--dataset", "xor", "--test-size", "1.5"], "fraction in [0, 1)"),
        (["train", "--dataset", "xor", "--batch-size", "big"], "positive integer"),
        (["train", "--dataset", "xor", "--target", "y"], "--target goes with --csv"),
        (["train", "--dataset", "iris", "--noise", "0.1"], "noise applies to generated"),
        (["train", "--dataset", "iris", "--n-samples", "1000"], "has 150 samples"),
        (["train", "--dataset", "iris", "--task", "regression", "--epochs", "1"], None),
        (["train", "--csv", "missing.csv", "--target", "y"], "CSV file not found: missing.csv"),
        (["train", "--csv", "missing.csv"], "--csv needs --target"),
    ],
)
def test_errors_are_one_line_with_status_2(capsys, argv, message):
    status, out, err = _run(capsys, *argv)
    if message is None:  # iris as regression is allowed: its labels are numbers
        assert status == 0, err
        return
    assert status == 2
    assert err.startswith("fastnn: error:")
    assert len(err.splitlines()) == 1
    assert message in err
    assert "Traceback" not in err


def test_csv_errors(capsys, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n1,oops,0\n2,3,1\n")
    status, _, err = _run(capsys, "train", "--csv", str(path), "--target", "z")
    assert status == 2
    assert "no column 'z'; its columns are: 'a', 'b', 'y'" in err
    status, _, err = _run(capsys, "train", "--csv", str(path), "--target", "y")
    assert status == 2
    assert "feature column 'b' has the value 'oops'" in err


def test_regression_on_string_labels_is_an_error(capsys, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,y\n1,cat\n2,dog\n")
    argv = ["train", "--csv", str(path), "--target", "y", "--task", "regression"]
    status, _, err = _run(capsys, *argv)
    assert status == 2
    assert "needs numeric targets" in err


def test_help_exits_zero(capsys):
    status, out, _ = _run(capsys, "train", "--help")
    assert status == 0
    assert "--dataset" in out and "--hidden" in out


def test_info(capsys):
    status, out, err = _run(capsys, "info")
    assert status == 0, err
    for key in ("fastnn", "numpy", "numba", "scikit-learn", "python", "cpu", "cores", "blas"):
        assert re.search(rf"^{key}:", out, flags=re.MULTILINE), key
    assert "numba threading layer:" in out
    assert "numba cache dir:" in out


def test_python_dash_m():
    argv = [sys.executable, "-m", "fastnn", "train", "--dataset", "xor", "--epochs", "5"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "test accuracy:" in result.stdout
    assert "Traceback" not in result.stderr


def test_blas_threads_changes_speed_not_results(capsys):
    argv = ["train", "--dataset", "moons", "--n-samples", "200", "--epochs", "5"]
    _, plain, _ = _run(capsys, *argv)
    status, limited, err = _run(capsys, *argv, "--blas-threads", "1")
    assert status == 0, err
    assert "blas_threads=1" in limited
    assert _score(limited, "final loss") == _score(plain, "final loss")
