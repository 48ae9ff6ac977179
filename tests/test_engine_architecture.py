"""The attention modules talk through public interfaces and import downwards only."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "skfavor"
ATTENTION_MODULES = [
    "attention.py",
    "_attention_checks.py",
    "_linear_attention.py",
    "_namespace.py",
    "_torch_namespace.py",
    "_torch_matrix_functions.py",
    "nn.py",
]
#: Private names that are public API: NamedTuple's methods, and torch's
#: device-side assertion (the only check without a device-to-host copy).
ALLOWED = {"_fields", "_replace", "_asdict", "_make", "torch._assert_async"}
MATH = [
    "_statistics.py",
    "_closed_forms.py",
    "_feature_map.py",
    "_block_products.py",
    "_sampling.py",
    "_matrix_functions.py",
]


def _tree(name):
    return ast.parse((PACKAGE / name).read_text(), filename=name)


def _private_reads(tree):
    """``x._name`` where ``x`` is not ``self``/``cls`` and the name is not allowed."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or name.startswith("__"):
            continue
        owner = ast.unparse(node.value)
        if owner in ("self", "cls") or name in ALLOWED:
            continue
        if f"{owner}.{name}" in ALLOWED:
            continue
        yield f"{owner}.{name} (line {node.lineno})"


@pytest.mark.parametrize("module", ATTENTION_MODULES)
def test_no_private_attribute_of_another_object_is_read(module):
    assert list(_private_reads(_tree(module))) == []


def _imports(name):
    found = set()
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.add(node.module or "")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize(
    "module", [*MATH, "_namespace.py", "_linear_attention.py", "attention.py"]
)
def test_modules_below_the_layer_do_not_import_it(module):
    imports = _imports(module)
    assert not imports & {"nn", "integrations", "experiments"}, imports
    assert not any(name.startswith("torch") for name in imports), imports


@pytest.mark.parametrize("module", MATH)
def test_math_modules_import_only_math_and_the_namespace(module):
    local = {
        name
        for name in _imports(module)
        if not name.startswith(
            (
                "numpy",
                "scipy",
                "sklearn",
                "joblib",
                "threadpoolctl",
                "__future__",
                "dataclasses",
                "concurrent",
                "contextlib",
                "functools",
                "math",
                "os",
                "sys",
                "threading",
                "warnings",
                "numbers",
                "typing",
            )
        )
    }
    allowed = {
        "_blocks",
        "_block_products",
        "_namespace",
        "_statistics",
        "_closed_forms",
        "_feature_map",
        "_matrix_functions",
        "_sampling",
        "_docstrings",
    }
    assert local <= allowed, local - allowed


def test_linear_attention_knows_nothing_of_families_or_statistics():
    imports = _imports("_linear_attention.py")
    assert not imports & {"_closed_forms", "_statistics", "attention"}, imports


def test_no_module_calls_array_api_compat_namespace_directly():
    for module in [*ATTENTION_MODULES, *MATH]:
        source = (PACKAGE / module).read_text()
        assert "array_namespace(" not in source or module == "_namespace.py", module
