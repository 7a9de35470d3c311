"""The run directory: where a run may be written, one writer at a time, and how it is
put in place so that a crash at any instant leaves a whole run (old or new) behind.

A run is built in a hidden work folder beside it (`RunLayout.work`, which also holds its
checkpoints) and renamed into place when complete; `RunLayout.lock` holds the writer's lock,
and `RunLayout.aside` the replaced run for the instant of an --overwrite. These names are
never followed when they are symlinks, nor reused when something else holds them: that is
refused in one line naming it. A run is known by its marker, `RunLayout.MARKER` (run.json:
format and model), which only gon writes; `--overwrite` replaces nothing else.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import fnmatch
import itertools
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import GONError
from ..files import FORMAT, read_json, read_metadata, swap_directory, write_json
from ..layout import RunLayout
from . import distributed


def run_directory(out: Path, overwrite: bool = False) -> Path:
    """`out`, if a new run may be written there (see `train`); GONError where it may not.

    A folder that is not a run is never replaced (--overwrite once emptied a scratch folder
    given as `--out .`): `.`, `/`, the home directory and every parent of the working
    directory are refused outright, and any other existing folder must be a run
    (`is_run`: its marker, run.json, written by gon train) or empty."""
    if str(out) in ("", "."):
        raise GONError(f"the run directory {str(out)!r} is the working directory: name a new folder for the run")
    resolved = out.expanduser().resolve()
    here = Path.cwd().resolve()
    if resolved in (Path(resolved.anchor), Path.home().resolve(), here) or resolved in here.parents:
        raise GONError(f"refusing to write a run over {out} (the root, home or working directory, or a parent of it)")
    if not out.exists():
        return out
    if not overwrite:
        raise GONError(
            f"{out} already exists: choose another output folder, or replace it with --overwrite "
            f"(overwrite=True in Python)"
        )
    mode = os.lstat(out).st_mode
    if stat.S_ISLNK(mode):
        raise GONError(f"{out} is a symlink: refusing to replace it (name the folder itself)")
    if not stat.S_ISDIR(mode):
        raise GONError(f"{out} is a file, not a run directory: refusing to replace it")
    if any(out.iterdir()) and not is_run(out):
        raise GONError(
            f"{out} is not a gon run (no {RunLayout.MARKER} written by gon train): refusing to replace it; "
            f"if it is a run of an older version, delete it yourself (rm -r {out})"
        )
    return out


def is_run(folder: Path) -> bool:
    """Whether `folder` (a run or a work folder) was written by gon: its marker `run.json`
    names this library's format, or, for a run written before the marker, its config.json
    and weights do and it holds nothing but the files gon writes (RunLayout.LEGACY_NAMES).
    Common names alone never suffice: a model folder of another library also has a
    config.json and a model.safetensors."""
    layout = RunLayout(folder)
    marker = layout.marker
    if os.path.lexists(marker):
        document = _our_document(marker)
        return document is not None and isinstance(document.get("model"), dict)
    names = [entry.name for entry in folder.iterdir()]
    if not all(any(fnmatch.fnmatchcase(name, pattern) for pattern in RunLayout.LEGACY_NAMES) for name in names):
        return False
    config, weights = layout.config, layout.weights
    if not (_our_document(config) is not None and os.path.isfile(weights) and not os.path.islink(weights)):
        return False
    try:
        return read_metadata(weights).get("format") == FORMAT
    except GONError:
        return False


def _our_document(path: Path) -> dict[str, Any] | None:
    """The JSON object in the regular file `path` if it names this library's format, else None."""
    if os.path.islink(path) or not path.is_file():
        return None
    try:
        document = read_json(path, "missing")
    except GONError:
        return None
    return document if isinstance(document, dict) and document.get("format") == FORMAT else None


def check_own_names(out: Path) -> None:
    """GONError, naming it, if the work folder or the aside folder of `out` exists as a
    symlink, as something other than a folder, or as a folder gon did not write: each would
    otherwise be followed, written into or deleted. An empty one is harmless."""
    for path in (work_directory(out), aside_directory(out)):
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        what = "a symlink" if stat.S_ISLNK(mode) else None if stat.S_ISDIR(mode) else "not a folder"
        if what is None and any(path.iterdir()) and not is_run(path):
            what = "a folder gon did not write"
        if what is not None:
            raise GONError(
                f"{path} is {what}, where gon keeps its own files for {out}: move it away or delete it (rm -r {path})"
            )


def open_work_folder(work: Path, document: dict[str, Any]) -> None:
    """Create the work folder `work` if it is absent (never through a symlink), and mark it
    with its marker (`RunLayout.MARKER`: format, model and train) if it is not marked yet."""
    try:
        work.mkdir()
    except FileExistsError:
        if os.path.islink(work) or not work.is_dir():
            raise GONError(f"{work} is a symlink or not a folder, where gon keeps its work: move it away") from None
    marker = RunLayout(work).marker
    if not os.path.lexists(marker):
        write_json(marker, document)


@contextlib.contextmanager
def claimed(out: Path, overwrite: bool = False, version: bool = False, resuming: bool = False) -> Iterator[Path]:
    """The run directory for `out` (see `train`), held under an exclusive lock (`RunLayout.lock`,
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
            try:
                check_own_names(path)
            except GONError:
                _unlock(path, lock)
                raise
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
        descriptor = os.open(_lock_file(out), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(descriptor) as f:
            holder = f.read(32).strip() or "unknown"
    except (OSError, UnicodeDecodeError):  # released between the failed lock and this read
        holder = "unknown"
    return GONError(
        f"{out} is being written by another gon process (pid {holder}): wait for it to "
        f"finish or choose another output folder"
    )


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
        with contextlib.suppress(OSError):  # on a read-only folder the cleanup fails too (EROFS)
            path.unlink(missing_ok=True)
        raise GONError(f"cannot take the lock {path} of run {out} ({error.strerror or error})") from None


def _take_lock(path: Path) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:  # never through a symlink, never blocking on a FIFO, never truncating before it is ours
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise GONError(f"{path} is a symlink, not gon's lock file: delete it (rm {path})") from None
            raise
        handle = os.fdopen(descriptor, "r+")
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:  # a device, a FIFO, a hard link to another file
            handle.close()
            raise GONError(f"{path} is not gon's lock file (not a regular file of its own): delete it (rm {path})")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        try:
            current = os.stat(path, follow_symlinks=False).st_ino
        except FileNotFoundError:
            current = None
        if current == info.st_ino:
            break
        handle.close()
    try:
        held_before = handle.read(64)
    except UnicodeDecodeError:
        held_before = "?"
    if not re.fullmatch(r"\d*\n?", held_before):  # a stale lock of ours holds a process id, or nothing
        handle.close()
        raise GONError(
            f"{path} holds something other than a gon process id: not gon's lock file; delete it (rm {path})"
        )
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
    last, so that a crash at any point leaves one of the two runs whole. A leftover aside
    folder of an earlier crash is a run (`check_own_names` refused anything else) and goes."""
    check_own_names(out)
    swap_directory(new, out, RunLayout(out).aside)


def aside_directory(out: Path) -> Path:
    """Where an old run waits, during an --overwrite, until the new one is in place."""
    return RunLayout(out).aside


def work_directory(out: Path) -> Path:
    """Where a run is built before it is renamed to `out`; also where its checkpoints live."""
    return RunLayout(out).work.root
