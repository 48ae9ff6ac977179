"""Two gloo processes train one FavorAttention under DistributedDataParallel.

Run by ``tests/test_nn_distributed.py`` as ``python _distributed_worker.py
PORT OUTPUT``. Each rank seeds torch differently (as ranks do for their data),
builds the layer with ``random_state=None`` and ``redraw_interval=2``, and
trains on the same batches; rank 0 saves every rank's directions, outputs and
parameters at every step to OUTPUT, then each rank's eval output of a layer
trained with running statistics on batches of its own.
"""

import os
import sys
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from skfavor.nn import FavorAttention

WORLD_SIZE = 2
N_STEPS = 6


def _gathered(tensor):
    parts = [torch.empty_like(tensor) for _ in range(WORLD_SIZE)]
    dist.all_gather(parts, tensor.contiguous())
    return torch.stack(parts)


def _eval_after_own_batches(rank):
    """Eval output through DDP after training on each rank's own batches.

    Each rank's last training forward updates its running statistics from
    its own batch; DDP's first eval forward copies rank 0's to the others
    (doc/attention.rst), so that every rank evaluates the same model.
    """
    torch.manual_seed(rank)
    layer = FavorAttention(8, 2, batch_first=True, n_features=16, statistics="running")
    model = DistributedDataParallel(layer)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(2):
        seed = 100 * rank + step
        x = torch.randn(2, 12, 8, generator=torch.Generator().manual_seed(seed))
        out, _ = model(x, x, x)
        out.square().mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    x = torch.randn(2, 12, 8, generator=torch.Generator().manual_seed(99))
    with torch.no_grad():
        out, _ = model(x, x, x)
    return _gathered(out)


def worker(rank, port, output):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group(
        "gloo", rank=rank, world_size=WORLD_SIZE, timeout=timedelta(seconds=60)
    )
    torch.manual_seed(1000 + rank)
    layer = FavorAttention(
        8,
        2,
        batch_first=True,
        n_features=16,
        redraw_interval=2,
        statistics="running",
    )
    model = DistributedDataParallel(layer)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    record = {"omega": [], "output": [], "in_proj_weight": [], "redraw_seed": []}
    for step in range(N_STEPS):
        x = torch.randn(2, 12, 8, generator=torch.Generator().manual_seed(step))
        out, _ = model(x, x, x)
        out.square().mean().backward()
        optimizer.step()
        optimizer.zero_grad()
        for name, value in [
            ("omega", layer.omega),
            ("output", out.detach()),
            ("in_proj_weight", layer.in_proj_weight.detach()),
            ("redraw_seed", layer.redraw_seed),
        ]:
            record[name].append(_gathered(value))
    record["eval_after_own_batches"] = [_eval_after_own_batches(rank)]
    if rank == 0:
        torch.save({k: torch.stack(v) for k, v in record.items()}, output)
    dist.barrier()
    dist.destroy_process_group()
    # Everything is saved. Leave without interpreter finalization: with
    # torch 2.13, gloo's worker threads can still be joinable when the
    # interpreter tears down after destroy_process_group, and about one exit in
    # twenty aborts with "terminate called without an active exception"
    # (pytorch/pytorch#179291 describes the same teardown race).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    port, output = int(sys.argv[1]), sys.argv[2]
    mp.spawn(worker, args=(port, output), nprocs=WORLD_SIZE, join=True)
