import pytest
import scipy
from sklearn import config_context


def pytest_addoption(parser):
    parser.addoption(
        "--run-slow", action="store_true", help="also run tests marked slow"
    )


def _array_api_unavailable() -> str | None:
    """Why scikit-learn cannot dispatch to the array API here, or None.

    The array-API route needs more than the core package: scikit-learn refuses
    to dispatch with SciPy < 1.14.
    """
    try:
        with config_context(array_api_dispatch=True):
            pass
    except ImportError as error:
        return f"{error} (SciPy {scipy.__version__} here)"
    return None


def pytest_collection_modifyitems(config, items):
    skips = {}
    if not config.getoption("--run-slow"):
        skips["slow"] = pytest.mark.skip(
            reason="slow statistical test: run with --run-slow"
        )
    reason = _array_api_unavailable()
    if reason is not None:
        skips["array_api"] = pytest.mark.skip(reason=f"array API route: {reason}")
    for item in items:
        for keyword, skip in skips.items():
            if keyword in item.keywords:
                item.add_marker(skip)
