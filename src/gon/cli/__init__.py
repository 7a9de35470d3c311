"""The `gon` command line: parse (parser.py), run one command (commands.py; `gon bench`'s
are the benchmark layer's, gon/paper/cli.py, plugged in here), and turn every
foreseeable failure into one line and exit 2 (bad input) or 130 (Ctrl-C).

    gon train --data mnist5k --steps 300
    python -m gon eval runs/conv
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Sequence

import torch

from ..errors import GONError
from ..paper.cli import add_bench, cmd_bench
from . import commands
from .parser import build_parser

COMMANDS = {"train": commands.cmd_train, "eval": commands.cmd_eval, "reconstruct": commands.cmd_reconstruct,
            "sample": commands.cmd_sample, "interpolate": commands.cmd_interpolate, "render": commands.cmd_render,
            "export-encoder": commands.cmd_export_encoder, "inspect": commands.cmd_inspect,
            "report": commands.cmd_report, "export-onnx": commands.cmd_export_onnx, "bench": cmd_bench}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser([add_bench])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="gon: %(message)s")
    logging.getLogger("gon").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if getattr(args, "threads", None) is not None and not (args.command == "bench" and args.bench in ("speed", "map")):
        torch.set_num_threads(args.threads)
    if os.environ.get("RANK", "0") != "0":  # under torchrun rank 0 speaks for all; the others only warn
        logging.getLogger("gon").setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command](args)
    except GONError as error:
        print(f"gon: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        command = getattr(interrupt, "resume_command", None)
        print(f"gon: interrupted after step {interrupt.step}; checkpoint written: continue with `{command}`"
              if command else "gon: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug, not bad input: say so in one line; GON_DEBUG=1 shows the traceback
        if os.environ.get("GON_DEBUG"):
            raise
        print(f"gon: internal error: {type(error).__name__}: {error} (rerun with GON_DEBUG=1 for details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
