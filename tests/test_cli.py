"""The ``fastnn`` command, run in-process through ``main`` (and once as ``python -m``)."""

import csv
import re
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import datasets
from fastnn.cli import Trained, main


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Run each command in a fresh directory: ``train`` may write its default plot there."""
    monkeypatch.chdir(tmp_path)


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


def test_train_text_sparse_and_save(capsys, tmp_path):
    # The sparse dataset trains as it is (no scaling, which would make it dense), and
    # the saved model predicts it.
    path = tmp_path / "text.npz"
    argv = ["train", "--dataset", "text", "--epochs", "30", "--no-plot", "--save", str(path)]
    status, out, err = _run(capsys, *argv)
    assert status == 0, err
    assert "sparse (" in out and "features as they are" in out
    assert _score(out, "test accuracy") > 0.8
    model = fastnn.load(path)
    X, y = datasets.load("text")
    assert model.score(X, y) > 0.8


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
    for key in ("shipped kernels", "kernel cache", "kernels this process"):
        assert re.search(rf"^{key}:", out, flags=re.MULTILINE), key


def test_python_dash_m(tmp_path):
    argv = [sys.executable, "-m", "fastnn", "train", "--dataset", "xor", "--epochs", "5"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
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


# --- --save, --plot and predict -------------------------------------------------------


def _read_predictions(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["prediction"]
    return [row[0] for row in rows[1:]]


def _moons_csv(path, labels=("left", "right"), header="x1,x2,label"):
    X, y = datasets.load("moons", n_samples=200)
    return _write_csv(path, X, np.array(labels)[y], header), X, np.array(labels)[y]


def test_save_then_predict_string_labels(capsys, tmp_path):
    path, X, labels = _moons_csv(tmp_path / "moons.csv")
    argv = ["train", "--csv", str(path), "--target", "label", "--epochs", "20", "--no-plot"]
    status, out, err = _run(capsys, *argv, "--save", "model.npz")
    assert status == 0, err
    assert "model: wrote model.npz" in out
    status, out, err = _run(
        capsys, "predict", "--model", "model.npz", "--csv", str(path), "--output", "preds.csv"
    )
    assert status == 0, err
    assert out == "predictions: wrote 200 rows to preds.csv\n"
    got = _read_predictions("preds.csv")
    expected = Trained.load("model.npz").predict(X).tolist()
    assert got == expected
    assert set(got) <= {"left", "right"}
    assert np.mean(np.array(got) == labels) > 0.7


def test_predict_finds_columns_by_name(capsys, tmp_path):
    path, X, _ = _moons_csv(tmp_path / "moons.csv")
    argv = ["train", "--csv", str(path), "--target", "label", "--epochs", "5", "--no-plot"]
    assert _run(capsys, *argv, "--save", "model.npz")[0] == 0
    # The same data with its columns in another order, an extra column and no target.
    lines = ["id,x2,x1"] + [f"{i},{b!r},{a!r}" for i, (a, b) in enumerate(X.tolist())]
    (tmp_path / "shuffled.csv").write_text("\n".join(lines) + "\n")
    status, out, err = _run(capsys, "predict", "--model", "model.npz", "--csv", "shuffled.csv")
    assert status == 0, err
    got = out.splitlines()
    expected = ["prediction", *Trained.load("model.npz").predict(X).tolist()]
    assert got == expected


def test_save_then_predict_regression_on_target_scale(capsys, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    y = 50 + 10 * (X[:, 0] - 2 * X[:, 1])
    path = _write_csv(tmp_path / "reg.csv", X, y.tolist(), "a,b,t")
    argv = ["train", "--csv", str(path), "--target", "t", "--epochs", "50", "--lr", "0.01"]
    assert _run(capsys, *argv, "--save", "model.npz")[0] == 0
    status, out, err = _run(capsys, "predict", "--model", "model.npz", "--csv", str(path))
    assert status == 0, err
    got = np.array(out.splitlines()[1:], dtype=float)
    expected = Trained.load("model.npz").predict(X)
    np.testing.assert_array_equal(got, expected)
    assert 1 - np.var(got - y) / np.var(y) > 0.5  # predictions on y's scale, not standardised


def test_save_of_a_builtin_dataset_needs_target_to_drop(capsys, tmp_path):
    status, _, err = _run(capsys, "train", "--dataset", "iris", "--epochs", "5", "--save", "m.npz")
    assert status == 0, err
    X, y = datasets.load("iris")
    lines = ["a,b,species,c,d"] + [f"{r[0]},{r[1]},{t},{r[2]},{r[3]}" for r, t in zip(X, y)]
    (tmp_path / "iris.csv").write_text("\n".join(lines) + "\n")
    status, _, err = _run(capsys, "predict", "--model", "m.npz", "--csv", "iris.csv")
    assert status == 2
    assert "the model takes 4 features; iris.csv has 5 columns" in err
    assert "--target COL" in err
    argv = ["predict", "--model", "m.npz", "--csv", "iris.csv", "--target", "species"]
    status, out, err = _run(capsys, *argv, "--output", "p.csv")
    assert status == 0, err
    got = np.array(_read_predictions("p.csv"), dtype=int)
    expected = Trained.load("m.npz").predict(X)
    np.testing.assert_array_equal(got, expected)


def test_saved_model_records_the_seed_and_scaling(capsys, tmp_path):
    argv = ["train", "--dataset", "blobs", "--epochs", "3", "--seed", "4", "--save", "m.npz"]
    assert _run(capsys, *argv)[0] == 0
    model, extra = fastnn.io.load_with_extra("m.npz")
    assert model.get_params()["random_state"] == 4
    assert sorted(extra) == ["feature_mean", "feature_scale", "target_mean", "target_scale"]
    assert extra["feature_mean"].shape == (2,)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict", "--model", "m.npz"], "the following arguments are required: --csv"),
        (["predict", "--model", "absent.npz", "--csv", "d.csv"], "Model file not found"),
        (["predict", "--model", "d.csv", "--csv", "d.csv"], "not a fastnn model file"),
        (["predict", "--model", "m.npz", "--csv", "absent.csv"], "CSV file not found"),
        (["predict", "--model", "m.npz", "--csv", "d.csv", "--target", "z"], "no column 'z'"),
        (["predict", "--model", "m.npz", "--csv", "bad.csv"], "column 'x2' has the value 'oops'"),
        (["predict", "--model", "m.npz", "--csv", "other.csv"], "lacks the model's feature"),
        (["predict", "--model", "m.npz", "--csv", "d.csv", "--output", "no/p.csv"], "no dir"),
        (["train", "--dataset", "xor", "--save", "no/m.npz"], "cannot write no/m.npz"),
        (["train", "--dataset", "xor", "--plot", "no/p.png"], "cannot write no/p.png"),
        (["train", "--dataset", "xor", "--plot", "p.png", "--no-plot"], "not allowed with"),
    ],
)
def test_save_and_predict_errors(capsys, tmp_path, argv, message):
    _moons_csv(tmp_path / "d.csv")
    (tmp_path / "bad.csv").write_text("x1,x2,label\n1,oops,left\n")
    (tmp_path / "other.csv").write_text("u,v\n1,2\n")
    fastnn.save(fastnn.MLPClassifier((2,), max_iter=1).fit([[0, 0], [1, 1]], [0, 1]), "m.npz")
    Trained(fastnn.load("m.npz"), feature_names=["x1", "x2"]).save("m.npz", seed=0)
    status, out, err = _run(capsys, *argv)
    assert status == 2
    assert err.startswith("fastnn: error:")
    assert len(err.splitlines()) == 1
    assert message in err
    assert out == ""  # train checks where it will write before training


def test_plot_option(capsys, tmp_path):
    argv = ["train", "--dataset", "circles", "--n-samples", "200", "--epochs", "5"]
    status, out, err = _run(capsys, *argv, "--validation-fraction", "0.2", "--plot", "c.png")
    assert status == 0, err
    assert "plot: wrote c.png" in out
    assert (tmp_path / "c.png").stat().st_size > 10_000
    assert not (tmp_path / "fastnn-circles.png").exists()


def test_plot_of_regression_curves(capsys, tmp_path):
    argv = ["train", "--dataset", "diabetes", "--epochs", "5", "--plot", "curves.png"]
    status, out, err = _run(capsys, *argv)
    assert status == 0, err
    assert "plot: wrote curves.png" in out
    assert (tmp_path / "curves.png").exists()


def test_default_plot_for_two_feature_classification(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    argv = ["train", "--dataset", "moons", "--n-samples", "200", "--epochs", "3"]
    status, out, err = _run(capsys, *argv)
    assert status == 0, err
    assert "plot: wrote fastnn-moons.png" in out
    assert (tmp_path / "fastnn-moons.png").exists()
    status, out, _ = _run(capsys, *argv, "--no-plot")
    assert "plot:" not in out
    status, out, _ = _run(capsys, "train", "--dataset", "iris", "--epochs", "3")
    assert "plot:" not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fastnn-moons.png"]


def test_without_matplotlib_a_hint_or_an_error(capsys, tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    argv = ["train", "--dataset", "xor", "--epochs", "2"]
    status, out, err = _run(capsys, *argv)
    assert status == 0, err
    assert "plot: pip install 'fastnn[plot]' to get a picture" in out
    status, out, err = _run(capsys, *argv, "--plot", "x.png")
    assert status == 2
    expected = (
        "fastnn: error: Plotting needs matplotlib, an optional dependency of fastnn: "
        "pip install 'fastnn[plot]'\n"
    )
    assert err == expected
    assert not list(tmp_path.iterdir())


def test_dropout_option_trains_and_is_checked(capsys):
    argv = ["train", "--dataset", "moons", "--n-samples", "300", "--epochs", "30", "--no-plot"]
    status, out, err = _run(capsys, *argv, "--hidden", "16,16", "--dropout", "0.2", "--lr", "0.01")
    assert status == 0, err
    assert _score(out, "test accuracy") > 0.8
    status, out, err = _run(capsys, *argv, "--dropout", "1.5")
    assert status == 2
    assert "fastnn: error:" in err and "--dropout" in err and "Traceback" not in err


def test_progress_callback_reports_every_epoch_and_removes_itself(capsys):
    """Training runs one fit whose callback counts epochs; the saved model keeps none."""
    argv = ["train", "--dataset", "xor", "--epochs", "7", "--hidden", "4", "--no-plot"]
    status, out, err = _run(capsys, *argv, "--lr", "0.01")
    assert status == 0, err
    assert "over 6 epochs" in out


def test_progress_bar_is_full_when_the_stopping_rule_ends_training(capsys, monkeypatch):
    # The bar counts up to --epochs; when training converges sooner, it ends at the
    # epochs trained, 100%, not part way.
    import io

    import tqdm

    bars = []

    class Recorded(tqdm.tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.update(disable=False, file=io.StringIO())  # shown, whatever the terminal
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(tqdm, "tqdm", Recorded)
    argv = ["train", "--dataset", "moons", "--n-samples", "300", "--epochs", "2000"]
    status, out, err = _run(capsys, *argv, "--no-plot")
    assert status == 0, err
    trained = int(re.search(r"over (\d+) epochs", out).group(1)) + 1
    assert trained < 2000  # the stopping rule fired
    (bar,) = bars
    assert bar.n == bar.total == trained
