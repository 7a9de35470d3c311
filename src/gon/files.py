"""Files and folders that appear whole or not at all, and bounded reads of our own formats.

write_atomically(path, save)              one file: temporary sibling, fsync, rename (the primitive)
check_outputs(*paths)                     every output of a command checked before the first is written
write_text / write_json                   a text or JSON file, through write_atomically
json_line(document)                       one line of strict JSON (NaN and infinity as null)
append_jsonl(path, records)               records appended to a log, on disk when it returns
write_directory_atomically(path, save)    one folder: the same, for a folder of files
swap_directory(new, path)                 a finished folder renamed onto another, the old one moved aside
read_json(path, missing)                  a small JSON document, refusing anything else
read_jsonl(path, skip_damaged)            the records of a log we append to, bounded
save_tensors / read_tensors               safetensors with deterministic bytes
tensor_problem(name, tensor)              what is wrong with a stored tensor's dtype or values
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .errors import GONError, OutputError


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "a symlink"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def check_output_file(path: Path) -> None:
    """GONError if `path` exists and is anything but a regular file (a device such as
    /dev/null, a FIFO, a socket, a directory or a symlink): an output never replaces one,
    and a symlink is never followed to write somewhere the user did not name."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise OutputError(f"could not write {path} ({error.strerror or error})") from None
    if not stat.S_ISREG(mode):
        raise GONError(f"{path} exists and is {_kind(mode)}, not a regular file: refusing to replace it")


def check_outputs(*paths: str | Path) -> None:
    """The checks `write_atomically` makes of each path (`check_output_file`, an existing folder
    above its own), made for all of one command's outputs before the first is written, so that a
    refusal of the last never follows the first written: a command's outputs are all or none."""
    for path in map(Path, paths):
        check_output_file(path)
        if not path.parent.is_dir() and not path.parent.parent.is_dir():
            raise GONError(f"cannot write {path}: {path.parent.parent} does not exist")


def file_mode() -> int:
    """The mode an ordinary new file gets under the process's umask (mkstemp's are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _remove_quietly(path: Path) -> None:
    try:  # cleanup after a failure must not raise a second error (EROFS from unlink)
        path.unlink(missing_ok=True)
    except OSError:
        pass


def write_atomically(path: str | Path, save: Callable[[Path], Any]) -> Path:
    """Run `save(tmp)` on a hidden sibling of `path`, fsync it, then rename it onto `path`.

    The sibling keeps `path`'s suffix, so writers that infer the format from the name
    (Pillow, matplotlib) still can; it is created exclusively under a unique name
    (O_EXCL, never a symlink someone left there), so two processes writing one path never
    share it. If `save` or the rename fails, the sibling is removed and `path` is left as it
    was: a crash never leaves half a file. `path` itself must be absent or a regular file
    (`check_output_file`). The file's own folder is created if its parent exists (a mistyped
    path must not grow a tree of folders), and a failed write (a full disk, a read-only
    folder) is an OutputError (a GONError) naming the file.
    """
    path = Path(path)
    check_output_file(path)
    tmp = None
    try:
        if not path.parent.is_dir():
            if not path.parent.parent.is_dir():
                raise GONError(f"cannot write {path}: {path.parent.parent} does not exist")
            path.parent.mkdir(exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.partial-", suffix=path.suffix)
        tmp = Path(name)
        os.close(descriptor)
        save(tmp)
        with open(tmp, "rb+") as f:  # on disk before the rename makes it visible
            os.fchmod(f.fileno(), file_mode())
            os.fsync(f.fileno())
        check_output_file(path)  # again: something may have appeared there while `save` ran
        os.replace(tmp, path)
    except OSError as error:
        raise OutputError(f"could not write {path} ({error.strerror or error})") from None
    finally:
        if tmp is not None:
            _remove_quietly(tmp)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """`text` (UTF-8) as the whole of `path`, written by `write_atomically`."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, document: Any, indent: int | None = 2) -> Path:
    """`document` as the JSON file `path` (indented, with a final newline, unless indent is
    None: one compact line), written by `write_atomically`."""
    text = json.dumps(document, indent=indent)
    return write_text(path, text + "\n" if indent is not None else text)


def json_line(document: Any) -> str:
    """`document` as one JSON line; a NaN or infinite number (a diverged model's error) is
    null, never a bare NaN that strict JSON readers refuse."""

    def finite(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: finite(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [finite(v) for v in value]
        return value

    return json.dumps(finite(document), allow_nan=False)


def append_jsonl(path: str | Path, records: list[dict[str, Any]]) -> None:
    """Append `records` to the log `path`, a line each, and fsync it: a record reported done
    is on disk, and a writer killed mid-line leaves a last line that `read_jsonl` drops."""
    if not records:
        return
    check_output_file(Path(path))  # a log is a regular file: never a device, FIFO or symlink
    try:  # O_NOFOLLOW: a symlink put there after the check is refused, not followed
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        with open(descriptor, "a", encoding="utf-8") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise GONError(f"{path} is not a regular file: refusing to append to it")
            f.write("".join(json.dumps(r) + "\n" for r in records))
            f.flush()
            os.fsync(f.fileno())
    except OSError as error:
        raise OutputError(f"could not write {path} ({error.strerror or error})") from None


def swap_directory(new: Path, path: Path, aside: Path | None = None) -> None:
    """Rename the finished folder `new` onto `path`, moving an old `path` aside first (to
    `aside`, default `.NAME.old` beside it) and deleting it last, so that a crash at any
    point leaves one of the two whole."""
    aside = aside if aside is not None else path.with_name(f".{path.name}.old")
    if os.path.lexists(path):
        _remove_aside(aside)
        path.rename(aside)
    new.rename(path)
    shutil.rmtree(aside, ignore_errors=True)


def _remove_aside(aside: Path) -> None:
    """Delete a folder left aside by an earlier swap; a symlink or file at that name is
    unlinked, never followed (rmtree refuses a symlink, and rename would then replace it)."""
    try:
        mode = os.lstat(aside).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(aside, ignore_errors=True)
    else:
        _remove_quietly(aside)


def fsync_directory(path: Path) -> None:
    """Make a rename inside `path` durable."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_tree(path: Path) -> None:
    """fsync every file under `path`, then `path` itself."""
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        with open(file, "rb+") as f:
            os.fsync(f.fileno())
    fsync_directory(path)


def write_directory_atomically(
    path: str | Path, save: Callable[[Path], Any], merge: tuple[str, ...] = (), replace: bool = False
) -> Path:
    """Run `save(tmp)` on a hidden sibling folder of `path`, fsync it, then rename it onto `path`.

    A new `path` appears whole or not at all. An existing one is an error, unless `merge`
    names the files to move from the new folder into it, one at a time and in that order
    (each replaced whole), or `replace` allows a folder of this kind to be swapped: the old
    one is renamed aside first and deleted only after the new one is in place. A failure
    (a full disk) is a GONError naming the folder, and the sibling is removed.
    """
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise OutputError(f"could not write {path} ({error.strerror or error})") from None
    if mode is not None and not stat.S_ISDIR(mode):
        raise GONError(f"{path} exists and is {_kind(mode)}, not a directory: refusing to replace it")
    if mode is not None and not (merge or replace):
        raise GONError(f"{path} already exists")
    tmp = old = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # unique names created here and now: a symlink left at a fixed name is never followed
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
        os.chmod(tmp, file_mode() | 0o111)  # mkdtemp's 0700 would hide a run from its group
        save(tmp)
        fsync_tree(tmp)
        if mode is None:
            tmp.rename(path)
        elif merge:
            for name in merge:
                check_output_file(path / name)
                os.replace(tmp / name, path / name)
        else:
            # aside under a name as unique as the temporary's: never one someone left there
            old = path.with_name(f".{path.name}.old-{tmp.name.rsplit('-', 1)[-1]}")
            swap_directory(tmp, path, old)
        fsync_directory(path.parent)
    except OSError as error:
        raise OutputError(f"could not write {path} ({error.strerror or error})") from None
    finally:
        for leftover in (tmp, old):
            if leftover is not None:
                shutil.rmtree(leftover, ignore_errors=True)
    return path


FORMAT = "gradient-origin-networks/v1"  # the format tag of every file this library writes


def _read_bounded(path: Path, limit: int, kind: str) -> bytes:
    """The bytes of the regular file `path`, refused in one line (GONError: not `kind`) if it is
    anything else or over `limit` bytes; FileNotFoundError and other OSErrors pass through."""
    info = os.stat(path)  # before opening: a FIFO would block, /dev/zero never ends
    if not stat.S_ISREG(info.st_mode):
        raise GONError(f"{path}: not a regular file")
    if info.st_size <= limit:
        with open(path, "rb") as f:
            data = f.read(limit + 1)  # it may have grown since
        if len(data) <= limit:
            return data
    raise GONError(f"{path}: larger than {limit >> 20} MiB, not {kind}")


# config.json, state.json and run.json are a few kB, emoji-datasource's emoji.json 1.3 MB;
# anything far larger is not a document of ours
MAX_JSON_BYTES = 16 << 20


def read_json(path: Path, missing: str) -> Any:
    """The JSON document in `path`; GONError ("PATH: missing") if absent, and one line for
    anything else: not a regular file (/dev/zero), over MAX_JSON_BYTES, not JSON, nested too
    deeply or holding an integer too long to convert."""
    try:
        return json.loads(_read_bounded(path, MAX_JSON_BYTES, "a JSON document this library reads"))
    except FileNotFoundError:
        raise GONError(f"{path}: {missing}") from None
    except RecursionError:
        raise GONError(f"{path}: not a readable JSON file (nested too deeply)") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:  # JSONDecodeError and over-long integers
        raise GONError(f"{path}: not a readable JSON file ({str(error).splitlines()[0]})") from None


# metrics.jsonl gains a line per logged step and a map's curves.jsonl 20 per run: a few MB
MAX_JSONL_BYTES = 256 << 20


def read_jsonl(path: Path, skip_damaged: bool = False) -> list[dict[str, Any]]:
    """The JSON objects of the log `path`, a line each ([] if it is absent). A last line cut
    short (a writer killed mid-line) is dropped; any other line that is not a JSON object is
    skipped with `skip_damaged`, else refused. Anything but a regular file of at most
    MAX_JSONL_BYTES is refused before it is read: one line (GONError), never a long read."""
    try:
        lines = _read_bounded(path, MAX_JSONL_BYTES, "a log of this library").decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return []
    except OSError as error:
        raise GONError(f"{path}: cannot be read ({error.strerror or error})") from None
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (RecursionError, ValueError):
            record = None
        if isinstance(record, dict):
            records.append(record)
        elif not skip_damaged and number - 1 != last:
            raise GONError(f"{path}: line {number} is not a JSON record; move the file aside to start again")
    return records


# safetensors keeps its metadata in a hash map, so two or more keys come out in a different
# order from run to run and identical weights give different bytes: they are stored as one
# key holding sorted JSON, and unpacked by read_tensors (which also reads the older layout)
PACKED_METADATA = "gon"


def save_tensors(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str]) -> None:
    """safetensors' save_file with byte-identical output for identical tensors and metadata,
    leaving the file readable like every other output (save_file creates mode 0600) under
    the process's umask; a failed write is an OSError."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    try:
        save_file(tensors, str(path), metadata={PACKED_METADATA: json.dumps(metadata, sort_keys=True)})
    except SafetensorError as error:  # its I/O errors (a full disk) are OSErrors to every caller
        raise OSError(errno.EIO, str(error).splitlines()[0]) from None
    os.chmod(path, file_mode())


# the dtypes a stored weight may have: real floating point (a model saved after .double() or
# .half() loads into float32 weights); complex, bool and integer tensors are refused
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def tensor_problem(
    name: str, tensor: torch.Tensor, dtypes: tuple[torch.dtype, ...] = (torch.float32,), finite: bool = True
) -> str | None:
    """What is wrong with the stored tensor `name` (read from one of our files), or None: a dtype
    outside `dtypes`, or with `finite`, a NaN or infinite value. The one check of every stored
    tensor's type (sampler files, model weights, checkpoints)."""
    if tensor.dtype not in dtypes:
        allowed = "a real float dtype" if dtypes == FLOAT_DTYPES else " or ".join(map(str, dtypes))
        return f"{name} is {tensor.dtype}, not {allowed}"
    if finite and not bool(torch.isfinite(tensor).all()):
        return f"{name} is not finite"
    return None


def read_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and metadata of a safetensors file; GONError if it is missing or not one."""
    return _read_safetensors(path, tensors=True)


def read_metadata(path: Path) -> dict[str, str]:
    """The metadata of a safetensors file, its tensors left unread; GONError as read_tensors."""
    return _read_safetensors(path, tensors=False)[1]


def _read_safetensors(path: Path, tensors: bool) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise GONError(f"{path}: missing")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            loaded = {k: f.get_tensor(k) for k in f.keys()} if tensors else {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise GONError(f"{path}: not a valid safetensors file ({str(error).splitlines()[0]})") from None
    if set(metadata) == {PACKED_METADATA}:
        try:
            unpacked = json.loads(metadata[PACKED_METADATA])
        except (ValueError, RecursionError):
            unpacked = None
        if not isinstance(unpacked, dict):
            raise GONError(f"{path}: unreadable metadata")
        metadata = {str(k): str(v) for k, v in unpacked.items()}
    return loaded, metadata
