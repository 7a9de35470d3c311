"""How many CPU threads a training step should use: idle, side by side, and beside busy processes.

Times one training step of a GON (conv, batch 64, median of `--repeats` after a warm-up)
with 1 and 2 threads on an otherwise idle machine, then two single-threaded runs side
by side, then 1 and 2 threads while `--busy` other processes run the same step in a loop.
The command line's default of one thread comes from these figures (docs/design.md).

    python -m benchmarks.threads --latent-dims 32 256 > docs/results/threads.txt
"""

import argparse
import multiprocessing
import statistics
import time

import torch


def step_time(threads: int, latent_dim: int, repeats: int) -> float:
    """Median seconds of one optimiser step of the default conv GON at `latent_dim`."""
    torch.set_num_threads(threads)
    from gon.config import ModelConfig
    from gon.data import load_data
    from gon.models import build_model

    x = load_data("mnist5k", "train", image_size=32, limit=64).batch(slice(0, 64))
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind="conv", latent_dim=latent_dim))
    optimiser = torch.optim.Adam(model.parameters(), 1e-3)
    times = []
    for i in range(repeats + 10):
        start = time.perf_counter()
        optimiser.zero_grad()
        model.loss(x).backward()
        optimiser.step()
        if i >= 10:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _timed(args: tuple[int, int, int]) -> float:
    return step_time(*args)


def _busy(stop: multiprocessing.Event, latent_dim: int) -> None:
    while not stop.is_set():
        step_time(1, latent_dim, 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latent-dims", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--busy", type=int, default=2, help="busy processes for the contended case")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    print(f"conv GON step, batch 64, median of {args.repeats} steps, ms; {multiprocessing.cpu_count()} cores")
    print(
        "| latent | 1 thread, idle | 2 threads, idle | two 1-thread runs side by side (each) | "
        f"1 thread beside {args.busy} busy | 2 threads beside {args.busy} busy |"
    )
    print("|---|---|---|---|---|---|")
    for k in args.latent_dims:
        idle = [step_time(t, k, args.repeats) for t in (1, 2)]
        with context.Pool(2) as pool:
            pair = pool.map(_timed, [(1, k, args.repeats)] * 2)
        stop = context.Event()
        workers = [context.Process(target=_busy, args=(stop, k)) for _ in range(args.busy)]
        for worker in workers:
            worker.start()
        time.sleep(5)  # the busy processes have imported torch and are stepping
        loaded = [step_time(t, k, args.repeats) for t in (1, 2)]
        stop.set()
        for worker in workers:
            worker.join()
        cells = [*idle, statistics.mean(pair), *loaded]
        print(f"| {k} | " + " | ".join(f"{1000 * c:.1f}" for c in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
