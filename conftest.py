"""Root test configuration, loaded before anything imports scipy."""

import os

# scikit-learn's array-API dispatch (tests/test_array_api.py) needs SciPy's
# array-API mode, which SciPy reads once, at import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
