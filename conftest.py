"""Root test configuration, loaded before anything imports scipy."""

import importlib.util
import os

# scikit-learn's array-API dispatch (tests/test_array_api.py) needs SciPy's
# array-API mode, which SciPy reads once, at import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import re
from pathlib import Path

# Modules whose tests are their doctests (--doctest-modules) and that import an
# optional library at module level (the PyTorch layer and its helpers, the
# Transformer experiment's models, the integrations) are collected only where
# that library is installed; their test files skip on their own.
_OPTIONAL = ("torch", "transformers", "onnx", "onnxruntime", "skl2onnx")
_MISSING = {name for name in _OPTIONAL if importlib.util.find_spec(name) is None}
_IMPORT = re.compile(r"^(?:import|from)\s+(\w+)", re.MULTILINE)
_RELATIVE = re.compile(r"^from\s+(\.+)(\w*)\s+import", re.MULTILINE)
_ROOT = Path(__file__).parent


def _needs_missing(path: Path, seen: dict) -> bool:
    """Whether ``path`` imports a missing optional library, also through the
    package's own modules (relative imports)."""
    if path not in seen:
        seen[path] = False  # a cycle imports nothing new
        text = path.read_text(encoding="utf-8")
        needs = bool(set(_IMPORT.findall(text)) & _MISSING)
        for dots, name in _RELATIVE.findall(text):
            base = path.parent
            for _ in range(len(dots) - 1):
                base = base.parent
            for target in (base / f"{name}.py", base / name / "__init__.py"):
                if name and target.exists():
                    needs = needs or _needs_missing(target, seen)
        seen[path] = needs
    return seen[path]


collect_ignore = [
    # The deprecated alias of skfavor.nadaraya_watson: importing it warns
    # (FutureWarning) and it holds no doctests; tests/test_kernel_regression.py
    # tests it.
    "skfavor/kernel_regression.py",
]
_SEEN: dict = {}
for _path in [*_ROOT.glob("skfavor/**/*.py"), *_ROOT.glob("tests/_*.py")]:
    if _needs_missing(_path, _SEEN):
        collect_ignore.append(str(_path.relative_to(_ROOT)))
