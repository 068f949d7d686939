"""Data-parallel training of one GAN over several processes (ranks): what `synthmed.gan.train` asks of them.

The total minibatch is the config's, as on one device: every rank draws the same global batch from the
same seeded generators (data order, latents, G's labels, the gradient penalty's mixing factors), so the
random streams and the checkpoints do not depend on the number of ranks, and keeps its share, samples
``rank, rank + world, ...`` (`Shard.take`). Taken strided, a rank's samples form whole minibatch-stddev
groups of the one-device batch (`gan.layers.MinibatchStddev` puts sample i in group i % M, M = batch /
group), as long as the world size divides M: the statistic is computed within a rank's batch, as the
original, and equals the one-device one. Each rank's loss is the mean over its share, and the gradients
are averaged over the ranks (`average_gradients`), so every per-sample term (WGAN, gradient penalty, drift,
label loss) keeps its weight in the total-batch mean. That averaging is an explicit all-reduce after
``backward`` (as stylegan2-ada's training loop does) rather than torch's DistributedDataParallel wrapper,
which does not support the gradient penalty's ``torch.autograd.grad(create_graph=True)``; the result
is the same data parallelism. Rank 0 evaluates, logs and saves; `broadcast` shares what it decided.

What cannot match a one-device run bit for bit: the mean over the batch is summed in another order
(two half-batch means averaged instead of one mean), and convolutions on a smaller batch may pick other
kernels; the difference is float rounding, which training then carries on (`tests/test_gan_ddp.py`
states the tolerance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class Shard:
    """This process's place among the ranks: (0, 1) is one process, the default, where nothing changes."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_process_group(cls) -> Shard:
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return cls()
        return cls(torch.distributed.get_rank(), torch.distributed.get_world_size())

    def check(self, batch: int, group: int) -> None:
        """The batch splits evenly, and into whole minibatch-stddev groups of the one-device batch."""
        groups = max(1, batch // max(1, group))
        if batch % self.world or groups % self.world:
            raise ValueError(f"minibatch {batch} (minibatch-stddev groups of {group}: {groups} groups) does not "
                             f"split over {self.world} ranks: use a world size that divides {groups}")

    def take(self, x: torch.Tensor) -> torch.Tensor:
        """This rank's share of a global batch (dimension 0): samples rank, rank + world, ..."""
        return x if self.world == 1 else x[self.rank :: self.world]

    def average_gradients(self, module: nn.Module) -> None:
        """Average the parameters' gradients over the ranks (one flat all-reduce)."""
        if self.world == 1:
            return
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch.distributed.all_reduce(flat)
        flat /= self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """A statistic's mean over the ranks (every rank gets it)."""
        if self.world == 1:
            return value
        total = value.detach().clone().float()
        torch.distributed.all_reduce(total)
        return total / self.world

    def broadcast(self, value: Any) -> Any:
        """Rank 0's `value` (any picklable object), on every rank."""
        if self.world == 1:
            return value
        box = [value if self.main else None]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()
