"""The `gon` command line: parse (front.py answers --help, --version and an unknown command,
and flags.py a flag no command takes, without loading torch; parser.py parses a command), run
one command (commands.py), and turn every foreseeable failure into one line and exit 2 (bad
input) or 130 (Ctrl-C) (`run`, which the benchmarks' command line, python -m benchmarks, shares).

    gon train --data mnist5k --steps 300
    python -m gon eval runs/conv
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from ..errors import GONError, os_error_message
from .front import COMMANDS, command_of, front_parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if command_of(argv) not in COMMANDS:
        front_parser().parse_args(argv)  # help, version or an error: each exits here
    # deferred on purpose: the flag table's checks (and gon.fields with them), then torch and
    # the library, load only once a command is named; `gon --help` needs none of them
    from . import flags

    flags.check(argv)  # a flag no command takes: exits here, with the answer of parse(argv)
    from . import commands

    args = parse(argv)
    # each command of front.COMMANDS is commands.cmd_<name>, dashes as underscores
    return run(getattr(commands, "cmd_" + args.command.replace("-", "_")), args)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """`argv` parsed by the real parser, which loads torch; exit 2 on bad arguments (an
    unrecognized one answered as flags.check answers it)."""
    from . import flags  # deferred with the commands (main)
    from .parser import build_parser

    args, extras = build_parser().parse_known_args(argv)
    if extras:
        flags.refuse(args.command, extras)
    return args


def run(command: Callable[[argparse.Namespace], int], args: argparse.Namespace, set_threads: bool = True) -> int:
    """Run `command(args)` the way every command runs: logging (--verbose), --threads
    (unless `set_threads` is false: the command sets them per measurement or per worker),
    and one line and an exit code for every foreseeable failure."""
    import torch  # deferred with the commands (main)

    logging.basicConfig(level=logging.INFO, format="gon: %(message)s")
    logging.getLogger("gon").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if set_threads and getattr(args, "threads", None) is not None:
        torch.set_num_threads(args.threads)
    if os.environ.get("RANK", "0") != "0":  # under torchrun rank 0 speaks for all; the others only warn
        logging.getLogger("gon").setLevel(logging.WARNING)
    # SIGTERM (kill, a scheduler's stop) unwinds like an error: the run's lock and work files are cleaned up
    signal.signal(signal.SIGTERM, _terminate)
    stdout, sys.stdout = sys.stdout, _Output(sys.stdout)  # `> full/eval.json` on a full disk: one line as well
    try:
        code = command(args)
        sys.stdout.flush()
        return code
    except GONError as error:
        print(f"gon: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the one place an OS error (EROFS, ENOSPC, EACCES, EISDIR, ...) becomes one line
        print(f"gon: error: {os_error_message(error)}", file=sys.stderr)
        return 2
    except MemoryError:
        print("gon: error: out of memory: ask for fewer or smaller images, or a smaller batch", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        command = getattr(interrupt, "resume_command", None)
        print(
            f"gon: interrupted after step {interrupt.step}; checkpoint written: continue with `{command}`"
            if command
            else "gon: interrupted",
            file=sys.stderr,
        )
        return 130
    except Exception as error:  # a bug, not bad input: say so in one line; GON_DEBUG=1 shows the traceback
        if os.environ.get("GON_DEBUG"):
            raise
        print(
            f"gon: internal error: {type(error).__name__}: {error} (rerun with GON_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 1
    finally:
        sys.stdout = stdout


class _Output:
    """sys.stdout, whose write errors name it: a bare ENOSPC would not say which file was full."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._guard(self._stream.write, text)

    def flush(self) -> None:
        self._guard(self._stream.flush)

    def _guard(self, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except OSError as error:
            _discard_unwritable_stdout(self._stream)
            raise GONError(f"could not write the standard output ({error.strerror or error})") from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _discard_unwritable_stdout(stream: TextIO) -> None:
    """Point `stream` at /dev/null once it cannot be written (a full disk), so that the
    interpreter's flush at exit does not fail a second time, after the one line."""
    try:
        descriptor = stream.fileno()
    except (OSError, ValueError, AttributeError):  # not a file (a test's capture)
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, descriptor)
    os.close(null)


if __name__ == "__main__":
    sys.exit(main())
