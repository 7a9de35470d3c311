"""The run directory: where a run may be written, one writer at a time, and how it is
put in place so that a crash at any instant leaves a whole run (old or new) behind.

A run is built in a hidden work folder beside it (`RunLayout.work`, which also holds its
checkpoints) and renamed into place when complete; `RunLayout.lock` holds the writer's lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
from pathlib import Path
from typing import Any, Iterator

from ..errors import GONError
from ..files import swap_directory
from ..layout import RunLayout
from . import distributed


def run_directory(out: Path, overwrite: bool = False) -> Path:
    """`out`, if a new run may be written there (see `train`); GONError where it may not.

    A folder that is not a run is never replaced (--overwrite once emptied a scratch folder
    given as `--out .`): `.`, `/`, the home directory and every parent of the working
    directory are refused outright, and any other existing folder must be a run
    (config.json and model.safetensors) or empty."""
    if str(out) in ("", "."):
        raise GONError(f"the run directory {str(out)!r} is the working directory: name a new folder for the run")
    resolved = out.expanduser().resolve()
    here = Path.cwd().resolve()
    if resolved in (Path(resolved.anchor), Path.home().resolve(), here) or resolved in here.parents:
        raise GONError(f"refusing to write a run over {out} (the root, home or working directory, or a parent of it)")
    if not out.exists():
        return out
    if not overwrite:
        raise GONError(f"{out} already exists: choose another output folder, or replace it with --overwrite "
                       f"(overwrite=True in Python)")
    if not out.is_dir():
        raise GONError(f"{out} is a file, not a run directory: refusing to replace it")
    if any(out.iterdir()) and not RunLayout(out).is_run():
        raise GONError(f"{out} is not a gon run (no config.json and model.safetensors): refusing to replace it")
    return out


@contextlib.contextmanager
def claimed(out: Path, overwrite: bool = False, version: bool = False, resuming: bool = False) -> Iterator[Path]:
    """The run directory for `out` (see `train`), held under an exclusive lock (`.NAME.lock`
    beside it) while the block runs: one writer per run directory. With `version`, the first
    of OUT, OUT-2, OUT-3, ... that is free. Under torchrun rank 0 alone writes, and alone locks."""
    if not distributed.environment().main:
        yield out
        return
    for number in itertools.count(1):
        path = out if number == 1 else out.with_name(f"{out.name}-{number}")
        if version and (path.exists() or work_directory(path).exists()):
            continue
        if not resuming:
            run_directory(path, overwrite)
        lock = _lock(path)
        if lock is not None and version and (path.exists() or work_directory(path).exists()):
            _unlock(path, lock)  # written by another process between the look and the lock
            continue
        if lock is not None:
            if not resuming and not version:
                try:  # again under the lock: another writer may have finished since the first look
                    run_directory(path, overwrite)
                except GONError:
                    _unlock(path, lock)
                    raise
            break
        if not version:
            raise _busy(path)
    try:
        yield path
    finally:
        _unlock(path, lock)


@contextlib.contextmanager
def held(folder: Path) -> Iterator[Path]:
    """`folder` under the same exclusive lock while the block runs, for a folder that a
    command continues call after call (the map's): a second writer gets a GONError."""
    lock = _lock(folder)
    if lock is None:
        raise _busy(folder)
    try:
        yield folder
    finally:
        _unlock(folder, lock)


def _busy(out: Path) -> GONError:
    try:
        holder = _lock_file(out).read_text().strip() or "unknown"
    except OSError:  # released between the failed lock and this read
        holder = "unknown"
    return GONError(f"{out} is being written by another gon process (pid {holder}): wait for it to "
                    f"finish or choose another output folder")


def _lock_file(out: Path) -> Path:
    return RunLayout(out).lock


def _lock(out: Path) -> Any:
    """An open file holding the exclusive lock of `out`'s run directory, or None if another
    process holds it. The file is deleted on release (`_unlock`), so a lock taken on a file
    that has just been deleted is retried on the new one."""
    path = _lock_file(out)
    try:
        return _take_lock(path)
    except OSError as error:  # a full disk or a read-only folder, before anything of the run is written
        path.unlink(missing_ok=True)
        raise GONError(f"cannot take the lock {path} of run {out} ({error.strerror or error})") from None


def _take_lock(path: Path) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _unlock(out: Path, handle: Any) -> None:
    _lock_file(out).unlink(missing_ok=True)  # while still held: a waiter then retries on a new file
    handle.close()


def replace_directory(new: Path, out: Path) -> None:
    """Rename the finished `new` onto `out`, moving an old `out` aside first and deleting it
    last, so that a crash at any point leaves one of the two runs whole."""
    swap_directory(new, out, RunLayout(out).aside)


def work_directory(out: Path) -> Path:
    """Where a run is built before it is renamed to `out`; also where its checkpoints live."""
    return RunLayout(out).work.root
