"""scikit-learn's own estimator checks, over both estimators and both engines."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastnn import MLPClassifier, MLPRegressor


def _estimators():
    # Small networks and few epochs keep the suite fast; the checks test the API.
    common = dict(hidden_layer_sizes=(20,), max_iter=100, random_state=0)
    for backend in ("numba", "numpy"):
        yield MLPClassifier(**common, backend=backend)
        yield MLPRegressor(**common, backend=backend)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(list(_estimators()))
def test_sklearn_compatible(estimator, check):
    check(estimator)
