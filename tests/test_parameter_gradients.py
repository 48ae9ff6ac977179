"""Gradients through the closed forms (``parameter_grad=True``) at repeated eigenvalues.

SDERF's and ADERF's maps are smooth functions of the statistics' matrices,
also where those have a repeated eigenvalue; their gradients must be the
derivatives of those functions there, not NaN (``eigh``'s own backward
divides by the gaps) and not a zeroed ``1/(λ_i − λ_j)``.
"""

import pytest

torch = pytest.importorskip("torch")

from skfavor._namespace import get_namespace  # noqa: E402
from skfavor._statistics import SampleStatistics  # noqa: E402
from skfavor.attention import fit_maps  # noqa: E402
from skfavor.nn import FavorAttention  # noqa: E402

D = 4


def _rotation(seed):
    generator = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(D, D, generator=generator, dtype=torch.float64))
    return Q


def _statistics(eigenvalues, seed, perturbation, mean=None):
    """Statistics of second moment ``Q diag(eigenvalues) Qᵀ + P + Pᵀ``."""
    Q = _rotation(seed)
    values = torch.tensor(eigenvalues, dtype=torch.float64)
    second = (Q * values) @ Q.T + perturbation + perturbation.T
    n = torch.tensor(5.0, dtype=torch.float64)
    mean = torch.zeros(D, dtype=torch.float64) if mean is None else mean
    scatter = n * (second - mean[:, None] * mean[None, :])
    return SampleStatistics(n, mean, scatter)


def _terms(family, query_values, key_values):
    """The compiled query and key terms as a function of two perturbations."""
    omega = torch.randn(
        6, D, generator=torch.Generator().manual_seed(3), dtype=torch.float64
    )

    def terms(query_perturbation, key_perturbation):
        queries = _statistics(query_values, 1, query_perturbation)
        keys = _statistics(key_values, 1, key_perturbation)
        query_map, key_map = fit_maps(
            queries, keys, omega, family, torch.float64, get_namespace(omega)
        )
        return (
            query_map.weights,
            query_map.offset,
            key_map.weights,
            key_map.offset,
            key_map.quadratic,
        )

    return terms


def _zeros():
    return torch.zeros(D, D, dtype=torch.float64, requires_grad=True)


def _layer(family, width=D, heads=1, dtype=torch.float64):
    """A layer (float64, one head of width ``D`` by default) whose gradients
    reach the fit."""
    return FavorAttention(
        width,
        heads,
        batch_first=True,
        feature_map=family,
        n_features=8,
        parameter_grad=True,
        random_state=0,
        dtype=dtype,
    )


def _sequence():
    """One float64 sequence of 6 positions that requires a gradient."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn((1, 6, D), generator=generator, dtype=torch.float64)
    return x.requires_grad_()


@pytest.mark.parametrize("family", ["sderf", "aderf"])
def test_fit_gradient_at_a_repeated_eigenvalue_matches_finite_differences(family):
    # Queries and keys share the eigenvectors: MXY = 2 MX has eigenvalue 1.5
    # twice (SDERF), MX and MY have 1 twice and MX^½ MY MX^½ = MX² has 1
    # twice (ADERF). The maps are analytic in the statistics there, so
    # central differences across the tie are exact to O(eps²) while the
    # analytic gradient is taken at the tie itself.
    values = [0.75, 0.75, 2.0, 0.5]
    terms = _terms(family, values, values)
    assert torch.autograd.gradcheck(terms, (_zeros(), _zeros()))


@pytest.mark.parametrize("family", ["gerf", "saderf", "sderf", "aderf"])
def test_layer_gradient_at_zero_columns_matches_finite_differences(family):
    # Two projected query and key columns exactly 0 (the numerics review's
    # case): the statistics keep a repeated eigenvalue 0 however the input
    # moves, so the layer is differentiable in its input there; ADERF floors
    # those eigenvalues at a fraction of the largest one, which does move.
    # eigh's own backward gave NaN here for SDERF and ADERF, silently.
    layer = _layer(family)
    with torch.no_grad():
        layer.in_proj_weight[2:4].zero_()
        layer.in_proj_weight[6:8].zero_()
        layer.in_proj_bias.zero_()
    x = _sequence()
    assert torch.autograd.gradcheck(
        lambda inputs: layer(inputs, inputs, inputs)[0], (x,)
    )


@pytest.mark.parametrize("family", ["sderf", "aderf"])
def test_parameter_gradients_compile_in_one_graph(family):
    # The matrix functions' autograd.Function traces under
    # torch.compile(fullgraph=True); forward and backward equal eager's.
    torch._dynamo.reset()
    torch.manual_seed(0)
    layer = _layer(family, width=8, heads=2, dtype=torch.float32)
    x = torch.randn((2, 10, 8), generator=torch.Generator().manual_seed(2))

    def gradients(module):
        inputs = x.clone().requires_grad_()
        out = module(inputs, inputs, inputs)[0]
        out.square().sum().backward()
        grads = (inputs.grad, layer.in_proj_weight.grad.clone())
        layer.zero_grad()
        return out.detach(), *grads

    expected = gradients(layer)
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    for value, reference in zip(gradients(compiled), expected, strict=True):
        assert torch.isfinite(value).all()
        torch.testing.assert_close(value, reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("gram", [False, True])
@pytest.mark.parametrize("floor", [None, 1e-2])
def test_matrix_function_gradient_equals_eigh_backward_at_distinct_eigenvalues(
    floor, gram
):
    # Away from ties, eigh's own backward is exact: the Daleckii–Krein
    # backward must agree with it, the floor's dependence on the largest
    # eigenvalue included (the floor 1e-2 binds on the eigenvalue 1e-3), and
    # so must the Gram route (functions of C Cᵀ from the SVD of C) and the
    # gradient of the eigenvalues themselves.
    from skfavor._matrix_functions import (
        SpectralFunction,
        eigen_functions,
        floored,
        symmetric_functions,
    )

    functions = (
        SpectralFunction(lambda v: v**-0.5, lambda v: -0.5 * v**-1.5),
        SpectralFunction(torch.log, lambda v: 1.0 / v),
    )
    generator = torch.Generator().manual_seed(0)

    def rotations():
        random = torch.randn(3, 5, 5, generator=generator, dtype=torch.float64)
        return torch.linalg.qr(random)[0]

    values = torch.tensor([1e-3, 0.3, 0.7, 1.1, 2.0], dtype=torch.float64)
    Q = rotations()
    if gram:
        M = (Q * values**0.5) @ rotations().transpose(-2, -1)
    else:
        M = (Q * values) @ Q.transpose(-2, -1)
    M.requires_grad_()
    weights = torch.randn(2, 3, 5, 5, generator=generator, dtype=torch.float64)

    def loss(eigenvalues, matrices):
        # A symmetric function of the eigenvalues, as SDERF's log det(I − 4A).
        products = (torch.sum(w * F) for w, F in zip(weights, matrices, strict=True))
        return torch.sum(torch.sqrt(eigenvalues)) + sum(products)

    symmetric = M @ M.transpose(-2, -1) if gram else M
    xp = get_namespace(M)
    (expected,) = torch.autograd.grad(
        loss(
            torch.linalg.eigvalsh(symmetric),
            eigen_functions(
                floored(torch.linalg.eigvalsh(symmetric), floor, xp),
                torch.linalg.eigh(symmetric)[1],
                [f.value for f in functions],
                xp,
            ),
        ),
        M,
    )
    eigenvalues, _, matrices = symmetric_functions(M, functions, floor=floor, gram=gram)
    (gradient,) = torch.autograd.grad(loss(eigenvalues, matrices), M)
    torch.testing.assert_close(gradient, expected, rtol=1e-9, atol=1e-12)


def test_second_derivatives_through_the_fit_are_refused():
    # The backward is not itself differentiated: a second derivative must
    # fail loudly rather than come back silently wrong.
    layer = _layer("sderf")
    x = _sequence()
    (gradient,) = torch.autograd.grad(layer(x, x, x)[0].sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice"):
        gradient.sum().backward()
