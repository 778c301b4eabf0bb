"""Many processes: who writes, how evaluation is split between ranks, and how their results
become one exact result.

Evaluation gives rank r the samples r, r + n, r + 2n, ... with no padding (paddle's
DistributedBatchSampler repeats samples to even the ranks out, which would count them twice).
Each rank's metric state is then replaced by the union of all ranks' states, and the loss is
summed with its sample counts, so every rank reports exactly what one process would have.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import paddle

from ..metrics.base import HubMetric, host
from ..serialization.records import record_bytes, record_from_bytes

__all__ = ["world_size", "rank", "gather", "barrier", "can_shard", "merge_metrics", "global_weighted_loss"]


def world_size() -> int:
    return paddle.distributed.get_world_size()


def rank() -> int:
    return paddle.distributed.get_rank()


def gather(obj: Any) -> list:
    """Every rank's `obj` (plain data and arrays, as a record holds), in rank order, on every rank.

    Sent as record bytes, not pickles (paddle's all_gather_object unpickles what the other ranks
    send, which would run whatever code those bytes name)."""
    if world_size() <= 1:
        return [obj]
    mine = np.frombuffer(record_bytes(obj, "a value sent to the other ranks"), dtype=np.uint8)
    sizes: list = []
    paddle.distributed.all_gather(sizes, paddle.to_tensor([mine.size], dtype="int64"))
    longest = max(int(size.item()) for size in sizes)
    padded = np.zeros(longest, dtype=np.uint8)
    padded[:mine.size] = mine
    received: list = []
    paddle.distributed.all_gather(received, paddle.to_tensor(padded))
    return [record_from_bytes(data.numpy()[:int(size.item())].tobytes(), f"what rank {rank_} sent")
            for rank_, (data, size) in enumerate(zip(received, sizes))]


def barrier() -> None:
    """Wait until every rank gets here (after rank 0 wrote something the others will read)."""
    if world_size() > 1:
        paddle.distributed.barrier()


def can_shard(metrics: Sequence[Any]) -> bool:
    """Split evaluation between ranks only when every metric can be merged exactly."""
    return world_size() > 1 and all(isinstance(m, HubMetric) for m in metrics)


def merge_metrics(metrics: Sequence[HubMetric]) -> None:
    """Make each metric hold what all ranks saw (same result on every rank)."""
    mine = [tuple(host(s) for s in m.statistics()) for m in metrics]
    everyone = gather(mine)
    for i, metric in enumerate(metrics):
        metric.reset()
        for stats in everyone:
            if stats[i]:
                metric.update(*stats[i])


def global_weighted_loss(run_states: Sequence[Any]) -> float:
    """The sample-weighted mean of the first result over every rank's run states."""
    local = (sum(float(rs.result(0)) * rs.run_examples for rs in run_states),
             sum(rs.run_examples for rs in run_states))
    totals = np.sum(np.array(gather(local), dtype=np.float64), axis=0)
    return float(totals[0] / totals[1]) if totals[1] else float("nan")
