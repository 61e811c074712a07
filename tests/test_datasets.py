"""fastnn.datasets: every named dataset, and reading CSV files."""

import warnings

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg
from numpy.testing import assert_allclose, assert_array_equal

from fastnn import MLPClassifier, datasets

# name -> (n_samples, n_features, number of classes or None for regression)
EXPECTED = {
    "xor": (4, 2, 2),
    "moons": (1000, 2, 2),
    "circles": (1000, 2, 2),
    "spirals": (1000, 2, 2),
    "blobs": (1000, 2, 3),
    "text": (1000, 2000, 4),
    "digits": (1797, 64, 10),
    "iris": (150, 4, 3),
    "wine": (178, 13, 3),
    "breast_cancer": (569, 30, 2),
    "diabetes": (442, 10, None),
}


def test_expected_covers_every_name():
    assert set(EXPECTED) == set(datasets.NAMES)


@pytest.mark.parametrize("name", datasets.NAMES)
def test_load_shapes_and_dtypes(name):
    n, d, n_classes = EXPECTED[name]
    X, y = datasets.load(name)
    assert X.shape == (n, d)
    assert y.shape == (n,)
    assert X.dtype == np.float64
    if name == "text":
        assert scipy.sparse.issparse(X) and X.format == "csr"
        X = X.data  # the non-zeros
    else:
        assert X.flags.c_contiguous
    assert np.isfinite(X).all()
    if n_classes is None:
        assert y.dtype == np.float64
        assert not datasets.is_classification(name)
    else:
        assert y.dtype == np.int64
        assert_array_equal(np.unique(y), np.arange(n_classes))
        assert datasets.is_classification(name)


@pytest.mark.parametrize("name", datasets.NAMES)
def test_load_is_deterministic(name):
    X1, y1 = datasets.load(name, random_state=3)
    X2, y2 = datasets.load(name, random_state=3)
    if name == "text":
        X1, X2 = X1.toarray(), X2.toarray()
    assert_array_equal(X1, X2)
    assert_array_equal(y1, y2)


@pytest.mark.parametrize("name", ["moons", "circles", "spirals", "blobs", "text"])
def test_generated_depend_on_random_state(name):
    X1, _ = datasets.load(name, random_state=0)
    X2, _ = datasets.load(name, random_state=1)
    if name == "text":
        X1, X2 = X1.toarray(), X2.toarray()
    assert not np.array_equal(X1, X2)


@pytest.mark.parametrize("name", datasets.GENERATED)
def test_generated_n_samples_and_noise(name):
    X, y = datasets.load(name, n_samples=50, noise=0.0)
    assert X.shape == (50, datasets.TEXT_WORDS if name == "text" else 2)
    assert y.shape == (50,)


def test_text_is_sparse_tfidf_whose_topics_a_network_learns():
    X, y = datasets.load("text", n_samples=400)
    assert 20 < X.nnz / X.shape[0] < 60  # words a document, TEXT_LENGTH on average
    assert_allclose(scipy.sparse.linalg.norm(X, axis=1), 1.0)  # L2-normalised rows
    assert (X.data > 0).all()
    # Without noise, every word comes from the document's topic: each topic's words
    # are its own block of the vocabulary, plus the other words in its order.
    X0, y0 = datasets.load("text", n_samples=400, noise=0.0)
    block = datasets.TEXT_WORDS // datasets.TEXT_TOPICS
    own = [np.isin(X0[y0 == k].indices // block, [k]).mean() for k in range(4)]
    assert min(own) > 0.5, own
    with pytest.raises(ValueError, match="noise for 'text' is a share of words"):
        datasets.load("text", noise=1.5)
    # Learnable: far above chance (0.25) on held-out documents.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 100 epochs may not converge
        model = MLPClassifier((32,), max_iter=100, random_state=0).fit(X[:300], y[:300])
    assert model.score(X[300:], y[300:]) > 0.7


def test_xor_default_is_the_truth_table():
    X, y = datasets.load("xor")
    assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    assert_array_equal(y, [0, 1, 1, 0])


def test_xor_clusters_are_balanced_and_labelled_by_corner():
    X, y = datasets.load("xor", n_samples=400, noise=0.05)
    assert_array_equal(np.bincount(y), [200, 200])
    corner = np.rint(X).astype(int)
    assert_array_equal(y, corner[:, 0] ^ corner[:, 1])


def test_spirals_without_noise_lie_in_the_unit_disc():
    X, y = datasets.load("spirals", n_samples=500, noise=0.0)
    assert np.all(np.hypot(X[:, 0], X[:, 1]) <= 1.0 + 1e-12)
    assert_array_equal(np.bincount(y), [250, 250])


@pytest.mark.parametrize("name", datasets.BUNDLED)
def test_bundled_subsample(name):
    X_all, y_all = datasets.load(name)
    X, y = datasets.load(name, n_samples=40, random_state=0)
    assert X.shape == (40, X_all.shape[1])
    rows = [np.flatnonzero((X_all == row).all(axis=1))[0] for row in X]
    assert rows == sorted(rows)  # a subset, in the original order
    assert_array_equal(y, y_all[rows])


def test_bundled_refuses_more_samples_than_it_has():
    with pytest.raises(ValueError, match="'iris' has 150 samples"):
        datasets.load("iris", n_samples=151)


def test_bundled_refuses_noise():
    with pytest.raises(ValueError, match="noise applies to generated datasets"):
        datasets.load("iris", noise=0.1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_samples": 0}, "n_samples must be a positive int"),
        ({"n_samples": 2.5}, "n_samples must be a positive int"),
        ({"noise": -1.0}, "noise must be a non-negative number"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.load("moons", **kwargs)


@pytest.mark.parametrize("function", [datasets.load, datasets.is_classification])
def test_unknown_name_lists_the_available_ones(function):
    with pytest.raises(ValueError, match="Unknown dataset 'mnist'") as info:
        function("mnist")
    for name in datasets.NAMES:
        assert name in str(info.value)


# --- load_csv ---------------------------------------------------------------------------


def _write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_csv_numeric_target(tmp_path):
    path = _write(tmp_path, "a,b,label\n1,2,0\n3.5,-4,1\n\n5,6e-1,1\n")
    X, y = datasets.load_csv(path, "label")
    assert_array_equal(X, [[1, 2], [3.5, -4], [5, 0.6]])
    assert X.dtype == np.float64
    assert_array_equal(y, [0, 1, 1])
    assert y.dtype == np.int64


def test_load_csv_string_labels_stay_labels(tmp_path):
    path = _write(tmp_path, "species, x\n setosa ,1\nvirginica,2\nsetosa,3\n")
    X, y = datasets.load_csv(str(path), "species")
    assert_array_equal(X, [[1], [2], [3]])
    assert_array_equal(y, ["setosa", "virginica", "setosa"])
    assert y.dtype.kind == "U"


def test_load_csv_real_target(tmp_path):
    path = _write(tmp_path, "x,y\n1,0.5\n2,1\n")
    _, y = datasets.load_csv(path, "y")
    assert y.dtype == np.float64
    assert_array_equal(y, [0.5, 1.0])


@pytest.mark.parametrize("target", [0, -2, "0"])
def test_load_csv_target_by_position(tmp_path, target):
    path = _write(tmp_path, "t,x\n1,10\n0,20\n")
    X, y = datasets.load_csv(path, target)
    assert_array_equal(X, [[10], [20]])
    assert_array_equal(y, [1, 0])


def test_load_csv_byte_order_mark(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("label,x\n1,2\n".encode("utf-8-sig"))
    _, y = datasets.load_csv(path, "label")
    assert_array_equal(y, [1])


def test_load_csv_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        datasets.load_csv(path, "y")


def test_load_csv_unknown_column_lists_the_columns(tmp_path):
    path = _write(tmp_path, "a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"no column 'c'; its columns are: 'a', 'b'"):
        datasets.load_csv(path, "c")


def test_load_csv_index_out_of_range(tmp_path):
    path = _write(tmp_path, "a,b\n1,2\n")
    with pytest.raises(ValueError, match="target index 5 is out of range"):
        datasets.load_csv(path, 5)


@pytest.mark.parametrize(
    "text, match",
    [
        ("a,b,y\n1,x,0\n", r"line 2: feature column 'b' has the value 'x'"),
        ("a,b,y\n1,2,0\n,2,1\n", r"line 3: feature column 'a' is empty"),
        ("a,b,y\n1,nan,0\n", r"feature column 'b' has the value 'nan'"),
        ("a,b,y\n1,2,0\n1,2\n", r"line 3: 2 fields, but the header has 3"),
        ("a,b,y\n1,2,\n", r"line 2: target column 'y' is empty"),
        ("", "is empty"),
        ("a,b,y\n", "no data rows"),
    ],
)
def test_load_csv_bad_content(tmp_path, text, match):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=match):
        datasets.load_csv(path, "y")


def test_load_csv_single_column(tmp_path):
    path = _write(tmp_path, "y\n1\n")
    with pytest.raises(ValueError, match="no features are left"):
        datasets.load_csv(path, "y")
