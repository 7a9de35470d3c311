"""The paper's benchmarks and the measurements behind the docs: programs that print
figures, beside the library (gon) and never inside it. Run from the repository root:

    python -m benchmarks table1 --quick      # the paper's tables, ablations, the map, speed
    python -m benchmarks.inner_scale --steps 1000
    python -m benchmarks.colour --out docs/results/colour

tables.py (Tables 1-2 and the ablations), map.py and map_plots.py (GON against autoencoder
over latent size, budget and normalisation), inner_scale.py (the inner-loss scale sweep),
speed.py (seconds per step) and __main__.py (their command line); the other modules are
one measurement each, named in docs/ beside the figures they made.
"""

from pathlib import Path

# the committed results that a benchmark reads back (the map's selected rates)
RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
