"""Root test configuration, loaded before anything imports scipy."""

import importlib.util
import os

# scikit-learn's array-API dispatch (tests/test_array_api.py) needs SciPy's
# array-API mode, which SciPy reads once, at import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# skfavor.nn is the PyTorch layer (the torch extra): without torch its module,
# doctests included, is not collected; tests/test_nn.py skips on its own.
collect_ignore = [
    # The deprecated alias of skfavor.nadaraya_watson: importing it warns
    # (FutureWarning) and it holds no doctests; tests/test_kernel_regression.py
    # tests it.
    "skfavor/kernel_regression.py",
]
if importlib.util.find_spec("torch") is None:
    collect_ignore.append("skfavor/nn.py")
# The integrations import their optional libraries at import time; their
# doctests are collected only where those libraries are installed.
_INTEGRATIONS = {
    "skfavor/integrations/transformers.py": ("torch", "transformers"),
    "skfavor/integrations/_transformers_cache.py": ("torch", "transformers"),
    "skfavor/integrations/onnx.py": ("onnx", "onnxruntime", "skl2onnx"),
    "skfavor/integrations/_onnx_torch.py": ("torch",),
}
for _path, _needed in _INTEGRATIONS.items():
    if any(importlib.util.find_spec(name) is None for name in _needed):
        collect_ignore.append(_path)
