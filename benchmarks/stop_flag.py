"""What the per-step stop-flag agreement of a multi-process run costs: the max all-reduce of one
int32 and its host copy that `SignalStop` does at every step boundary when the world size is
above 1.

    python -m paddle.distributed.launch --nproc_per_node 2 benchmarks/stop_flag.py

Rank 0 prints the median time per all-reduce over 5 rounds of 1,000.
"""
import statistics
import time

import paddle
import paddle.distributed as dist


def main(rounds: int = 5, per_round: int = 1000) -> None:
    dist.init_parallel_env()
    times = []
    for _ in range(rounds):
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(per_round):
            flag = paddle.to_tensor([0], dtype="int32")
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            bool(flag.numpy()[0])
        times.append((time.perf_counter() - t0) / per_round)
    if dist.get_rank() == 0:
        print(f"{dist.get_world_size()} processes: {statistics.median(times) * 1e3:.3f} ms per stop-flag "
              f"all-reduce (rounds: {', '.join(f'{t * 1e3:.3f}' for t in times)} ms)")


if __name__ == "__main__":
    main()
