"""Sphinx configuration of the skfavor documentation.

Build with ``python -m sphinx -W -b html doc doc/_build/html`` from the
repository root (or ``make html`` in ``doc/``). The build is offline: no
intersphinx inventory and no web fonts or scripts are fetched.
"""

import sys
from pathlib import Path

import matplotlib
from docutils import nodes

# Headless: sphinx-gallery runs the examples and captures their figures.
matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
# Document the checkout being built, not another installed copy.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "doc" / "_ext"))

import skfavor  # noqa: E402

project = "skfavor"
author = "the skfavor developers"
copyright = "the skfavor developers"
version = release = skfavor.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "results_tables",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
root_doc = "index"

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
# numpydoc lists the members itself, from the autosummary class template.
numpydoc_show_class_members = False
numpydoc_validation_checks = set()

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "backreferences_dir": "generated",
    "doc_module": ("skfavor",),
    "reference_url": {"skfavor": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
}

html_theme = "pydata_sphinx_theme"
html_title = f"skfavor {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": True,
    "secondary_sidebar_items": ["page-toc"],
    "header_links_before_dropdown": 5,
}
# Single-page sections need no navigation column, and the examples' code needs
# the width more than a list of the other examples: give the text the width.
html_sidebars = {
    page: []
    for page in (
        "index",
        "install",
        "user_guide",
        "attention",
        "scaling",
        "math",
        "results",
        "auto_examples/*",
    )
}
html_static_path = []
html_show_sourcelink = False

# The build is offline, so there is no intersphinx inventory of scikit-learn.
# Its API names, and the glossary terms and labels that the docstrings
# inherited from scikit-learn use, become links to its online documentation.
SKLEARN_URL = "https://scikit-learn.org/stable/"
SKLEARN_LABELS = {
    "accuracy_score": "modules/model_evaluation.html#accuracy-score",
    "r2_score": "modules/model_evaluation.html#r2-score",
    "metadata_routing": "metadata_routing.html",
    "df_output_transform": "auto_examples/miscellaneous/plot_set_output.html",
    "sphx_glr_auto_examples_miscellaneous_plot_set_output.py": (
        "auto_examples/miscellaneous/plot_set_output.html"
    ),
}


def link_to_sklearn(app, env, node, contnode):
    """Resolve a reference that Sphinx cannot to scikit-learn's documentation."""
    target, reftype = node.get("reftarget", ""), node.get("reftype")
    if node.get("refdomain") == "py" and target.startswith("sklearn."):
        parts = target.split(".")
        # sklearn documents a class or function on its own page.
        page = ".".join(parts[:3]) if len(parts) > 3 else target
        anchor = f"#{target}" if len(parts) > 3 else ""
        uri = f"{SKLEARN_URL}modules/generated/{page}.html{anchor}"
    elif reftype == "term":
        anchor = target.lower().replace(" ", "-")
        uri = f"{SKLEARN_URL}glossary.html#term-{anchor}"
    elif reftype == "ref" and target in SKLEARN_LABELS:
        uri = SKLEARN_URL + SKLEARN_LABELS[target]
    else:
        return None
    reference = nodes.reference("", "", internal=False, refuri=uri)
    reference += contnode
    return reference


def setup(app):
    """Register the scikit-learn link resolver."""
    app.connect("missing-reference", link_to_sklearn)
