"""``fastnn.plot.plot_training``: one PNG of the right size that actually shows something."""

import sys

import numpy as np
import pytest
from problems import load
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastnn import MLPClassifier, MLPRegressor
from fastnn.plot import has_matplotlib, plot_training

pytest.importorskip("matplotlib", reason="the plot extra: pip install 'fastnn[plot]'")


def _image(path):
    from matplotlib.image import imread

    return imread(path)


def _assert_shows_something(pixels, min_colours=10):
    assert pixels.std() > 0
    rgb = np.round(pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    assert np.unique(rgb, axis=0).shape[0] >= min_colours


def test_two_feature_classification_shows_regions_and_curves(tmp_path):
    X, y = load("binary")
    labels = np.array(["left", "right"])[y]
    model = MLPClassifier((8,), max_iter=15, early_stopping=True, random_state=0)
    model.fit(X, labels)
    got = plot_training(model, X, labels, tmp_path / "moons.png", title="moons")
    assert got == str(tmp_path / "moons.png")
    pixels = _image(got)
    expected = (450, 1100, 4)  # figsize (11, 4.5) at dpi 100
    assert pixels.shape == expected
    _assert_shows_something(pixels)
    # The left half (regions) is mostly the two classes' pale colours, not white.
    left = pixels[50:400, 50:500, :3]
    assert (left.min(axis=2) < 0.95).mean() > 0.5


def test_other_data_shows_curves_only(tmp_path):
    X, y = load("regression")
    model = MLPRegressor(hidden_layer_sizes=(8,), max_iter=10, random_state=0).fit(X, y)
    pixels = _image(plot_training(model, X, y, tmp_path / "curves.png", dpi=50))
    expected = (225, 300, 4)  # figsize (6, 4.5) at dpi 50
    assert pixels.shape == expected
    _assert_shows_something(pixels)


def test_figsize_and_dpi(tmp_path):
    X, y = load("multiclass")
    model = MLPClassifier((4,), max_iter=3, random_state=0).fit(X, y)
    path = plot_training(model, X, y, tmp_path / "iris.png", figsize=(4, 3), dpi=80)
    assert _image(path).shape == (240, 320, 4)


def test_validation_curves_are_drawn(tmp_path):
    X, y = load("binary")
    model = MLPClassifier((8,), max_iter=10, random_state=0).fit(X, y)
    plain = _image(plot_training(model, X, y, tmp_path / "plain.png"))
    scores = np.linspace(0.5, 0.9, model.n_iter_)
    model.validation_loss_curve_ = list(np.linspace(0.8, 0.4, model.n_iter_))
    both = _image(plot_training(model, X, y, tmp_path / "validation.png", validation_scores=scores))
    assert both.shape == plain.shape
    assert not np.array_equal(both, plain)


def test_lbfgs_has_no_loss_curve(tmp_path):
    X, y = load("multiclass")
    model = MLPClassifier((4,), solver="lbfgs", max_iter=5, random_state=0).fit(X, y)
    _assert_shows_something(_image(plot_training(model, X, y, tmp_path / "lbfgs.png")))


def test_pipeline_draws_in_raw_units(tmp_path):
    X, y = load("binary")
    X = 100 * X + 50
    scaler = StandardScaler().fit(X)
    model = MLPClassifier((8,), max_iter=10, random_state=0).fit(scaler.transform(X), y)
    path = plot_training(make_pipeline(scaler, model), X, y, tmp_path / "pipeline.png")
    _assert_shows_something(_image(path))


def test_missing_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    assert not has_matplotlib()
    X, y = load("binary")
    model = MLPClassifier((2,), max_iter=1, random_state=0).fit(X, y)
    with pytest.raises(ImportError, match=r"pip install 'fastnn\[plot\]'"):
        plot_training(model, X, y, tmp_path / "never.png")
    assert not (tmp_path / "never.png").exists()
