"""Redraws that agree across processes and devices, and resume exactly (issue 16)."""

import copy
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

torch = pytest.importorskip("torch")

from skfavor._torch_sampling import (  # noqa: E402
    draw_directions,
    gaussians,
    uniforms,
)
from skfavor.nn import FavorAttention  # noqa: E402

SEED = torch.tensor(20261205)


def _layer(**kwargs):
    kwargs = {"n_features": 16, "batch_first": True, **kwargs}
    return FavorAttention(8, 2, **kwargs)


def _inputs(seed, shape=(2, 12, 8)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def test_uniforms_and_gaussians_follow_their_laws():
    u = uniforms(SEED, torch.tensor(3), 50_000).numpy()
    assert 0 < u.min() and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 0.01
    z = gaussians(SEED, torch.tensor(3), 50_000).numpy()
    assert stats.kstest(z, "norm").pvalue > 0.01
    # Neighbouring draws, draws and seeds are uncorrelated (|r| ~ 1/√n).
    other = gaussians(SEED, torch.tensor(4), 50_000).numpy()
    reseeded = gaussians(SEED + 1, torch.tensor(3), 50_000).numpy()
    for a, b in [(z[:-1], z[1:]), (z, other), (z, reseeded)]:
        assert abs(np.corrcoef(a, b)[0, 1]) < 4 / math.sqrt(len(a))
    # One stream: an offset continues it.
    tail = gaussians(SEED, torch.tensor(3), 10, offset=7)
    assert torch.equal(tail, gaussians(SEED, torch.tensor(3), 17)[7:])


@pytest.mark.parametrize("sampling", ["orthogonal", "simplex", "iid"])
def test_directions_have_gaussian_rows_and_their_coupling(sampling):
    d, n_blocks = 6, 400
    omega = draw_directions(SEED, torch.tensor(1), n_blocks * d, d, sampling=sampling)
    assert omega.shape == (n_blocks * d, d) and omega.dtype == torch.float64
    # Each row is N(0, I_d): its norm is χ_d and its direction uniform, so a
    # fixed coordinate of the rows is N(0, 1).
    norms = torch.linalg.vector_norm(omega, dim=1).numpy()
    assert stats.kstest(norms, stats.chi(d).cdf).pvalue > 0.01
    assert stats.kstest(omega[:, 0].numpy(), "norm").pvalue > 0.01
    blocks = (omega / torch.linalg.vector_norm(omega, dim=1, keepdim=True)).reshape(
        n_blocks, d, d
    )
    gram = blocks @ blocks.transpose(1, 2)
    if sampling == "orthogonal":
        expected = torch.eye(d, dtype=torch.float64).expand(n_blocks, -1, -1)
        torch.testing.assert_close(gram, expected, rtol=0, atol=1e-12)
    elif sampling == "simplex":
        cosine = -1.0 / (d - 1)
        expected = torch.full((d, d), cosine, dtype=torch.float64).fill_diagonal_(1.0)
        torch.testing.assert_close(
            gram, expected.expand(n_blocks, -1, -1), atol=1e-12, rtol=0
        )
    else:
        off = gram[:, ~torch.eye(d, dtype=torch.bool)]
        assert off.abs().mean() > 0.2  # independent rows are not orthogonal


def test_draws_are_functions_of_seed_and_index_only():
    torch.manual_seed(0)
    a = draw_directions(SEED, torch.tensor(2), 20, 8)
    torch.manual_seed(1)
    np.random.seed(1)  # noqa: NPY002 (the legacy global generator)
    assert torch.equal(draw_directions(SEED, torch.tensor(2), 20, 8), a)
    assert not torch.allclose(draw_directions(SEED, torch.tensor(3), 20, 8), a)
    assert not torch.allclose(draw_directions(SEED + 1, torch.tensor(2), 20, 8), a)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_draws_agree_across_devices():
    cpu = draw_directions(SEED, torch.tensor(5), 100, 64)
    cuda = draw_directions(SEED.cuda(), torch.tensor(5).cuda(), 100, 64)
    torch.testing.assert_close(cuda.cpu(), cpu, rtol=1e-9, atol=1e-9)
    assert torch.equal(
        uniforms(SEED.cuda(), torch.tensor(5).cuda(), 1000).cpu(),
        uniforms(SEED, torch.tensor(5), 1000),
    )


def test_random_state_none_follows_torch_manual_seed():
    np.random.seed(0)  # noqa: NPY002 (the legacy global generator)
    torch.manual_seed(7)
    first = _layer()
    np.random.seed(1)  # noqa: NPY002 (the legacy global generator)
    torch.manual_seed(7)
    second = _layer()
    assert torch.equal(first.omega, second.omega)
    assert torch.equal(first.redraw_seed, second.redraw_seed)
    torch.manual_seed(8)
    assert not torch.equal(_layer().omega, first.omega)


def test_int_random_state_fixes_every_draw():
    layers = [_layer(random_state=3, redraw_interval=1).train() for _ in range(2)]
    x = _inputs(0)
    for seed in range(2):
        torch.manual_seed(seed)  # ranks seeded differently
        layers[seed](x, x, x)
        layers[seed](x, x, x)
    assert torch.equal(layers[0].omega, layers[1].omega)
    assert int(layers[0].n_redraws) == 1


def test_redraws_follow_the_buffers_not_the_process_generator():
    # What DistributedDataParallel does: rank 0's buffers are broadcast at
    # construction, each rank then redraws in its own forward.
    torch.manual_seed(0)
    rank0 = _layer(redraw_interval=2, statistics="running").train()
    torch.manual_seed(1)
    rank1 = _layer(redraw_interval=2, statistics="running").train()
    assert not torch.equal(rank0.omega, rank1.omega)
    rank1.load_state_dict(rank0.state_dict())
    for step in range(5):
        x = _inputs(step)
        torch.manual_seed(100 + step)  # per-rank data seeds
        out0, _ = rank0(x, x, x)
        torch.manual_seed(200 + step)
        out1, _ = rank1(x, x, x)
        assert torch.equal(rank0.omega, rank1.omega), step
        torch.testing.assert_close(out0, out1, rtol=0, atol=0)
    assert int(rank0.n_redraws) == 2


def test_scheduled_redraw_reads_no_value_on_the_host(monkeypatch):
    layer = _layer(redraw_interval=1).train()
    x = _inputs(0)

    def refuse(*args, **kwargs):
        raise AssertionError("device-to-host transfer")

    for name in ["item", "tolist", "numpy", "__bool__", "__int__", "__float__"]:
        monkeypatch.setattr(torch.Tensor, name, refuse)
    before = layer.omega.clone()
    layer(x, x, x)
    layer(x, x, x)
    monkeypatch.undo()
    assert not torch.equal(layer.omega, before)


def _train(layer, optimizer, steps):
    outputs = []
    for step in steps:
        x = _inputs(step)
        out, _ = layer(x, x, x)
        out.square().mean().backward()
        optimizer.step()
        optimizer.zero_grad()
        outputs.append((out.detach(), layer.omega.clone()))
    return outputs


@pytest.mark.parametrize("random_state", [None, 0])
def test_a_checkpoint_resumes_exactly(random_state):
    torch.manual_seed(0)
    layer = _layer(random_state=random_state, redraw_interval=3, statistics="running")
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    reference = copy.deepcopy((layer, optimizer))
    uninterrupted = _train(*reference, range(10))
    _train(layer, optimizer, range(4))
    checkpoint = copy.deepcopy((layer.state_dict(), optimizer.state_dict()))
    torch.manual_seed(123)
    resumed = _layer(random_state=None, redraw_interval=3, statistics="running")
    resumed_optimizer = torch.optim.SGD(resumed.parameters(), lr=0.1, momentum=0.9)
    resumed.load_state_dict(checkpoint[0])
    resumed_optimizer.load_state_dict(checkpoint[1])
    continued = _train(resumed, resumed_optimizer, range(4, 10))
    for (out, omega), (expected, expected_omega) in zip(
        continued, uninterrupted[4:], strict=True
    ):
        assert torch.equal(omega, expected_omega)
        torch.testing.assert_close(out, expected, rtol=0, atol=0)
    # Redraws at forwards 3, 6 and 9: the directions changed after resuming.
    assert not torch.equal(continued[0][1], continued[-1][1])


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_distributed_ranks_draw_the_same_directions(tmp_path):
    distributed = pytest.importorskip("torch.distributed")
    if not distributed.is_available() or not distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    root = Path(__file__).resolve().parents[1]
    output = tmp_path / "record.pt"
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    try:
        result = subprocess.run(
            [
                sys.executable,
                str(root / "tests" / "_distributed_worker.py"),
                str(_free_port()),
                str(output),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the two gloo processes did not finish in 300 s")
    assert result.returncode == 0, result.stderr[-3000:]
    record = torch.load(output)
    for name, values in record.items():
        # (step, rank, ...): every rank holds rank 0's values at every step.
        torch.testing.assert_close(values[:, 1], values[:, 0], rtol=0, atol=0, msg=name)
    omega = record["omega"][:, 0]
    # Redraws at the third and fifth training forwards, and only there.
    changed = [not torch.equal(omega[s], omega[s - 1]) for s in range(1, 6)]
    assert changed == [False, True, False, True, False]


def test_scheduled_redraw_compiles_in_one_graph():
    # No host read and no data-dependent branch: dynamo traces the schedule
    # and the draw whole, and the compiled redraws equal the eager ones.
    layer = _layer(redraw_interval=2, random_state=0)
    eager = copy.deepcopy(layer)
    compiled = torch.compile(layer._scheduled_redraw, fullgraph=True, backend="eager")
    for _ in range(5):
        compiled()
        eager._scheduled_redraw()
        assert torch.equal(layer.omega, eager.omega)
    assert int(layer.n_redraws) == 2


def test_a_checkpoint_without_the_schedule_still_loads():
    # 0.2.0 saved no redraw schedule.
    old = _layer(random_state=0).state_dict()
    for name in ["redraw_seed", "n_redraws", "calls_since_redraw"]:
        del old[name]
    layer = _layer(random_state=1)
    seed = layer.redraw_seed.clone()
    layer.load_state_dict(old)
    assert torch.equal(layer.omega, old["omega"])
    assert torch.equal(layer.redraw_seed, seed)
