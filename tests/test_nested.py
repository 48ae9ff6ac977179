"""Nested features: the first m of M features are the m-feature map (doc §11).

For one ``random_state`` the directions are drawn block by block from one
stream, so the first ``m`` rows of an ``M``-row draw are the ``m``-row draw,
and the fitted parameters do not depend on the number of features: the map
of ``n_components=m`` is ``√(M/m)`` times the first ``m`` features of
``n_components=M`` (its offset holds ``−½ log M``). ``RandomFeatureRidgeCV``
relies on this to score every feature count from one pass.
"""

import numpy as np
import pytest
from _helpers import SAMPLERS
from sklearn.utils._param_validation import StrOptions

from skfavor import DERFSampler


def _sampling_options():
    """Every value the samplers accept for ``sampling`` (new ones included)."""
    options = []
    for constraint in DERFSampler._parameter_constraints["sampling"]:
        if isinstance(constraint, StrOptions):
            options += sorted(constraint.options)
    return options


#: (M, m) pairs, none a multiple of the 4 input features except m = M.
SIZES = [(7, 3), (10, 5), (13, 13), (29, 11), (9, 1)]


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("sampling", _sampling_options())
@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", list(SAMPLERS))
def test_first_features_are_the_smaller_map(family, kernel, sampling, sizes):
    M, m = sizes
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)) * 0.4 + 0.3
    keys = rng.normal(size=(50, 4)) * 0.6 - 0.2
    params = dict(kernel=kernel, gamma="scale", sampling=sampling, random_state=5)
    large = SAMPLERS[family](n_components=M, **params).fit(X, keys=keys)
    small = SAMPLERS[family](n_components=m, **params).fit(X, keys=keys)

    np.testing.assert_array_equal(small.random_weights_, large.random_weights_[:m])
    scale = np.sqrt(M / m)
    # The maps differ only in the −½ log M offset, exp'd: a few ulps.
    np.testing.assert_allclose(
        small.transform(X), scale * large.transform(X)[:, :m], rtol=1e-12
    )
    np.testing.assert_allclose(
        small.transform_keys(keys),
        scale * large.transform_keys(keys)[:, :m],
        rtol=1e-12,
    )


@pytest.mark.parametrize("sampling", _sampling_options())
def test_nested_draws_for_a_random_state_instance(sampling):
    """The property is one of the stream, so it holds for equal RandomStates."""
    X = np.random.default_rng(1).normal(size=(30, 3))
    large = DERFSampler(
        n_components=8, sampling=sampling, random_state=np.random.RandomState(2)
    ).fit(X)
    small = DERFSampler(
        n_components=5, sampling=sampling, random_state=np.random.RandomState(2)
    ).fit(X)
    np.testing.assert_array_equal(small.random_weights_, large.random_weights_[:5])
