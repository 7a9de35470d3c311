"""Inner step sizes on a decoder of one's own, trained in a plain Adam loop as a researcher would:
a three-layer MLP with tanh and sigmoid (k = 32) on mnist5k, 600 steps of batch 64 at 1e-3, scored
by held-out summed squared error per image. Each rule for the inner step: the calibrated scale
with fixed or learned step sizes, fixed scales, and several inner steps.

    python -m benchmarks.own_decoder_steps --out docs/results/own-decoder-steps

Writes runs.jsonl (one row per rule and seed) and summary.md (mean over seeds) into --out.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from gon import GON
from gon.data import load_data
from gon.origin import OriginStep

RULES = {
    "calibrated, fixed, 1 step": OriginStep(),
    "calibrated, learned, 1 step": OriginStep(step_sizes="learned"),
    "scale 1, fixed, 1 step": OriginStep(inner_scale=1.0),
    "scale 3, fixed, 1 step": OriginStep(inner_scale=3.0),
    "calibrated, fixed, 3 steps": OriginStep(steps=3),
    "calibrated, learned, 3 steps": OriginStep(steps=3, step_sizes="learned"),
    "calibrated, fixed, 10 steps": OriginStep(steps=10),
    "calibrated, learned, 10 steps": OriginStep(steps=10, step_sizes="learned"),
}


class MLP(nn.Module):
    def __init__(self, latent_dim: int = 32, hidden: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                 nn.Linear(hidden, 784), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, 1, 28, 28)


def run(rule: str, seed: int, train: torch.Tensor, test: torch.Tensor, steps: int) -> dict:
    torch.manual_seed(seed)
    model = GON(MLP(), 32, RULES[rule])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        x = train[torch.randint(len(train), (64,), generator=generator)]
        loss = model(x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        sse = float((model.decode(model.encode(test)) - test).pow(2).flatten(1).sum(1).mean())
    sizes = model.step_sizes()
    return {"rule": rule, "seed": seed, "steps": steps, "seconds": seconds, "heldout_sse": sse,
            "calibrated_scale": float(model.calibrated_scale) if hasattr(model, "calibrated_scale") else None,
            "mean_learned_step_size": float(sizes.mean()) if sizes is not None else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/results/own-decoder-steps"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--rules", nargs="+", default=list(RULES), choices=list(RULES))
    args = parser.parse_args()
    torch.set_num_threads(1)
    train = load_data("mnist5k", "train").batch(slice(None))
    test = load_data("mnist5k", "test").batch(slice(None))
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with (args.out / "runs.jsonl").open("a") as log:
        for rule in args.rules:
            for seed in args.seeds:
                row = run(rule, seed, train, test, args.steps)
                rows.append(row)
                log.write(json.dumps(row) + "\n")
                log.flush()
                print(json.dumps(row), flush=True)
    every = [json.loads(line) for line in (args.out / "runs.jsonl").read_text().splitlines()]
    lines = ["| rule | seeds | held-out SSE per image (mean) | per seed | calibrated scale | mean learned step size |",
             "|---|---|---|---|---|---|"]
    for rule in RULES:
        mine = [r for r in every if r["rule"] == rule and r["steps"] == args.steps]
        if not mine:
            continue
        sse = [r["heldout_sse"] for r in mine]
        scales = {f"{r['calibrated_scale']:.3g}" for r in mine if r["calibrated_scale"] is not None}
        learned = [r["mean_learned_step_size"] for r in mine if r["mean_learned_step_size"] is not None]
        lines.append(f"| {rule} | {len(mine)} | {statistics.mean(sse):.2f} | {', '.join(f'{v:.2f}' for v in sse)} | "
                     f"{', '.join(sorted(scales)) or '-'} | "
                     f"{', '.join(f'{v:.3g}' for v in learned) if learned else '-'} |")
    (args.out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
