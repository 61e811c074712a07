"""Fixtures shared by the tests; the data they use lives in ``problems.py``."""

import pytest
from problems import BACKENDS
from threadpoolctl import threadpool_limits


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Each engine in turn."""
    return request.param


@pytest.fixture(autouse=True, scope="session")
def single_threaded_blas():
    """Run BLAS on one thread: these tiny matrices gain nothing from more, and with
    OpenBLAS's threads SciPy's L-BFGS-B ran some 40 times slower."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield
