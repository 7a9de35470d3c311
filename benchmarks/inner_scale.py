"""The inner-loss scale sweep (gon.paper.inner_scale): validation error against the scale
for every GON kind and two decoders of a user's own, and the rules a default could be.

    python benchmarks/inner_scale.py --out docs/results/inner-scale --steps 1000 --workers 2

Resumable: a rerun into the same folder skips the runs it holds. Two single-threaded
workers side by side; `--joint` adds one cell at other rates (the scale against the rate).
"""

import argparse
import logging

from gon.fields import seed_int
from gon.origin import PAPER
from gon.paper.inner_scale import LATENT_DIMS, MODELS, RULES, SCALES, sweep


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/bench/inner-scale")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--models", nargs="+", choices=tuple(MODELS))
    p.add_argument("--latent-dims", nargs="+", type=int, default=list(LATENT_DIMS))
    p.add_argument("--scales", nargs="+", help="restrict the scales: numbers, paper, calibrated, learned")
    p.add_argument("--joint", nargs="+", metavar="MODEL K RATE",
                   help="e.g. conv-group 32 0.0003 0.001: that cell at those rates too")
    p.add_argument("--seeds", nargs="+", type=seed_int, default=[0], help="seeds of every cell (default 0)")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    joint = None
    if args.joint:
        joint = (args.joint[0], int(args.joint[1]), tuple(float(r) for r in args.joint[2:]))
    scales = SCALES
    if args.scales:
        scales = tuple(s if s in (PAPER, *RULES) else float(s) for s in args.scales)
    result = sweep(args.out, steps=args.steps, models=tuple(args.models) if args.models else None,
                   latent_dims=tuple(args.latent_dims), scales=scales, joint=joint, workers=args.workers,
                   seeds=tuple(args.seeds))
    print(result.markdown)


if __name__ == "__main__":
    main()
