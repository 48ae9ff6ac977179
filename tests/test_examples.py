"""Every gallery script in ``examples/`` runs to the end, so CI executes them all."""

import runpy
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.py"))


def test_the_gallery_has_its_examples():
    assert {
        "plot_approximation_error.py",
        "plot_grid_search.py",
        "plot_kernel_regression.py",
        "plot_variance.py",
    } <= {path.name for path in EXAMPLES}


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs(path, monkeypatch):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(path.parent)
    try:
        runpy.run_path(str(path), run_name="__main__")
    except ModuleNotFoundError as error:
        # An example may show an optional extra (dask, torch...); skfavor
        # itself must always be importable.
        if error.name is None or error.name.split(".")[0] == "skfavor":
            raise
        pytest.skip(f"{path.name} needs the optional package {error.name!r}")
    finally:
        plt.close("all")
