"""torch.distributed glue: one code path for a single process and for torchrun (DDP).

Launched by ``torchrun``, the environment carries RANK / WORLD_SIZE / LOCAL_RANK; we then join the
process group (gloo on CPU, nccl on CUDA), give each rank its own GPU, wrap the model in
DistributedDataParallel and shard the data with a DistributedSampler. Without those variables
everything degrades to a single process. ``TrainConfig.batch_size`` is the *global* batch: each
rank takes ``batch_size / world_size`` samples, so results match a single process with the same
global batch (DDP averages the gradients).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, DistributedSampler

from derain import runtime
from derain.errors import DerainError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def info() -> DistInfo:
    """Rank info from the environment torchrun sets (a single process when absent)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def setup(backend: str | None = None) -> DistInfo:
    """Join the process group once if launched by torchrun; otherwise a no-op."""
    di = info()
    if di.enabled and not dist.is_initialized():
        if backend is None:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(di.local_rank)
        dist.init_process_group(backend=backend)
    return di


def device_for_rank(di: DistInfo, name: str) -> torch.device:
    device = runtime.resolve_device(name)
    if device.type == "cuda" and di.enabled:
        return torch.device("cuda", di.local_rank)
    return device


def wrap(model: nn.Module, di: DistInfo, device: torch.device) -> nn.Module:
    if not di.enabled:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


class ResumableSampler(DistributedSampler):
    """A DistributedSampler that can start part-way through an epoch (exact resume).

    The shuffled order is the same for any world size and split across ranks without duplicates,
    so a global batch holds the same samples with 1 process or N.
    """

    def __init__(self, dataset: Dataset, di: DistInfo, *, seed: int) -> None:
        super().__init__(
            dataset, num_replicas=di.world_size, rank=di.rank, shuffle=True, seed=seed, drop_last=True
        )
        self.skip = 0

    def skip_samples(self, count: int) -> None:
        """Skip this rank's first ``count`` samples of the current epoch (once)."""
        self.skip = count

    def __iter__(self):
        indices = list(super().__iter__())
        skip, self.skip = self.skip, 0
        return iter(indices[skip:])


def sampler(dataset: Dataset, di: DistInfo, *, seed: int) -> ResumableSampler:
    return ResumableSampler(dataset, di, seed=seed)


def local_batch_size(global_batch: int, di: DistInfo) -> int:
    if global_batch % di.world_size:
        raise DerainError(
            f"--batch {global_batch} must be divisible by the number of processes ({di.world_size})"
        )
    return global_batch // di.world_size


def all_gather_objects(obj) -> list:
    """Every rank's ``obj`` on every rank (a one-item list without torchrun)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
