"""Checkpoints: a run's state written aside every few months, so that a killed run resumes with
exactly the result it would have had.

A checkpoint is a manifest and one part per shard (one part for an unsharded run), beside the
results in the run folder::

    RUN/checkpoint.ckpt                      the manifest: scenario, scheme, catalogue, step, parts
    RUN/checkpoint.3f9a12c4.s000012.p0.ckpt  part 0 of run 3f9a12c4 after 12 months: the state
                                             and the record so far

Every file is written beside its name, flushed to disk and renamed into place, and the manifest
is written last, so that it only ever names complete parts. A manifest in place removes only the
parts it has made useless: its own run's older parts and other runs' parts (an earlier run in an
``--overwrite`` folder keeps its checkpoint until then). A shard ahead of the others may already
have saved a newer part; that one is kept. Each file opens with a header that
holds the length and the SHA-256 of what follows; a file that is short, or whose bytes do not hash
to its header's, is refused with :class:`~scslab.errors.CheckpointError` and never used.

Randomness is counter-based (:mod:`scslab.rng`): the state columns and the month reached are all
a run needs to continue as if it had never stopped. What a part holds is found by walking the run
(:func:`columns`): every array of its state, traits and record, whatever columns they gain, except
the population's own arrays, which are drawn again from the scenario and its seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import secrets
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

import numpy as np

from scslab.errors import CheckpointError
from scslab.files import clean_leftovers, replacing

if TYPE_CHECKING:
    from scslab.engine.simulation import Simulation

MANIFEST = "checkpoint.ckpt"
MAGIC = b"SCSLABCK"
FORMAT = 1
#: magic, format, payload bytes, SHA-256 of the payload
_HEADER = struct.Struct("<8sIQ32s")
_CHUNK = 1 << 24


# --------------------------------------------------------------------------------------------
# files: a checksummed header, a JSON document, named arrays


class _Hashing:
    """A write-only file that hashes and counts what goes through it."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.sha = hashlib.sha256()
        self.n = 0

    def write(self, b: bytes | memoryview) -> int:
        self.f.write(b)
        self.sha.update(b)
        self.n += len(b)
        return len(b)


def write_file(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[str, int]:
    """Write ``meta`` (JSON) and ``arrays`` to ``path`` atomically; return (SHA-256, bytes).

    The payload streams through the hash, so no second copy of a large state is made.
    """
    with replacing(path, what="the checkpoint") as aside, aside.open("wb") as f:
        f.write(b"\0" * _HEADER.size)
        out = _Hashing(f)
        doc = json.dumps(meta).encode()
        out.write(struct.pack("<Q", len(doc)))
        out.write(doc)
        for name, a in arrays.items():
            key = name.encode()
            out.write(struct.pack("<H", len(key)))
            out.write(key)
            np.lib.format.write_array(out, np.ascontiguousarray(a), allow_pickle=False)  # type: ignore[no-untyped-call]
        digest = out.sha.digest()
        f.seek(0)
        f.write(_HEADER.pack(MAGIC, FORMAT, out.n, digest))
        f.flush()
        os.fsync(f.fileno())
    return digest.hex(), _HEADER.size + out.n


def read_file(
    path: Path, sha256: str | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file of :func:`write_file`, refusing it unless every byte hashes to its header.

    With ``sha256`` (from a manifest) the header's hash must also be that one.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below, after two passes)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the checkpoint ({exc.strerror})") from None
    with f:
        head = f.read(_HEADER.size)
        if len(head) < _HEADER.size:
            raise CheckpointError(f"{path}: truncated checkpoint (no complete header)")
        magic, version, size, digest = _HEADER.unpack(head)
        if magic != MAGIC:
            raise CheckpointError(f"{path}: not a scslab checkpoint")
        if version != FORMAT:
            raise CheckpointError(
                f"{path}: checkpoint format {version}; this scslab reads format {FORMAT}"
            )
        have = os.fstat(f.fileno()).st_size - _HEADER.size
        if have != size:
            raise CheckpointError(
                f"{path}: truncated or extended checkpoint: {have:,} bytes after the header, "
                f"{size:,} expected; refusing to resume from it"
            )
        sha = hashlib.sha256()
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
        if sha.digest() != digest:
            raise CheckpointError(
                f"{path}: corrupted checkpoint: its checksum does not match its contents; "
                "refusing to resume from it"
            )
        if sha256 is not None and digest.hex() != sha256:
            raise CheckpointError(
                f"{path}: this part is not the one the manifest names (checksum differs)"
            )
        f.seek(_HEADER.size)
        try:
            return _parse(f)
        except (ValueError, struct.error, UnicodeDecodeError) as exc:  # hashed, yet unreadable
            raise CheckpointError(f"{path}: unreadable checkpoint ({exc})") from None


def _parse(f: BinaryIO) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    (n,) = struct.unpack("<Q", f.read(8))
    meta = json.loads(f.read(n))
    arrays: dict[str, np.ndarray] = {}
    while head := f.read(2):
        (k,) = struct.unpack("<H", head)
        name = f.read(k).decode()
        arrays[name] = np.lib.format.read_array(f, allow_pickle=False)  # type: ignore[no-untyped-call]
    return meta, arrays


# --------------------------------------------------------------------------------------------
# what a run holds: its arrays, found by walking it


@dataclass(frozen=True)
class _Slot:
    key: str
    owner: Any  # the object (or dict) that holds the value
    name: str | None  # its attribute, or None for an item of a dict or a NamedTuple field
    value: Any


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _static_ids(obj: Any) -> set[int]:
    """Arrays of the population (and its network, firms...): drawn again, never saved."""
    ids: set[int] = set()
    for name in getattr(type(obj), "checkpoint_static", ()):
        holder: Any = getattr(obj, name, None)
        inside = list(vars(holder).values()) if hasattr(holder, "__dict__") else []
        for x in [holder, *inside]:
            if isinstance(x, np.ndarray):
                ids.add(id(x))
            elif _is_namedtuple(x):
                ids.update(id(v) for v in x if isinstance(v, np.ndarray))
            elif hasattr(x, "__dict__"):
                ids.update(id(v) for v in vars(x).values() if isinstance(v, np.ndarray))
    return ids


def _slots(obj: Any, prefix: str = "", static: set[int] | None = None) -> Iterator[_Slot]:
    """Every array, list of arrays and number a run holds, by dotted key.

    Objects with a ``checkpoint_skip`` class attribute (a run, a shard: what it leaves out; a
    ``checkpoint_static`` one names attributes whose arrays are the population's, drawn again) are
    walked through their attributes; NamedTuples, dataclasses and dicts through their fields and
    items.
    """
    if static is None:
        static = _static_ids(obj)
    if _is_namedtuple(obj):
        items: list[tuple[str, Any, str | None]] = [(f, obj, None) for f in obj._fields]
        values = dict(zip(obj._fields, obj, strict=True))
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        items = [(f.name, obj, f.name) for f in dataclasses.fields(obj)]
        values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    elif isinstance(obj, dict):
        items = [(str(k), obj, None) for k in obj]
        values = {str(k): v for k, v in obj.items()}
    else:
        skip = set(getattr(type(obj), "checkpoint_skip", ()))
        values = {k: v for k, v in vars(obj).items() if k not in skip and not k.startswith("__")}
        items = [(k, obj, k) for k in values]
    for field, owner, name in items:
        value = values[field]
        key = f"{prefix}{field}"
        if isinstance(value, np.ndarray):
            if id(value) not in static:
                yield _Slot(key, owner, name, value)
        elif isinstance(value, bool | int | float | np.number) or (
            isinstance(value, list) and all(isinstance(v, np.ndarray) for v in value)
        ):
            yield _Slot(key, owner, name, value)
        elif isinstance(value, dict) or _is_namedtuple(value) or dataclasses.is_dataclass(value):
            yield from _slots(value, f"{key}.", static)
        elif value is not None and _walked(value):
            yield from _slots(value, f"{key}.")


def _walked(value: Any) -> bool:
    """Objects walked attribute by attribute: those that say what they leave out (a ``Run``, a
    firm run's people's run inside it, a ``Shard``)."""
    return hasattr(type(value), "checkpoint_skip")


def columns(obj: Any) -> dict[str, np.ndarray]:
    """The arrays that make up ``obj``'s state (a run or a shard), ready for :func:`write_file`.

    A list of arrays (the panel's events, one array a month) is kept as their concatenation and
    their lengths under ``KEY#lengths``; a number as a 0-d array.
    """
    out: dict[str, np.ndarray] = {}
    for s in _slots(obj):
        if isinstance(s.value, list):
            rows = s.value
            out[s.key] = np.concatenate(rows) if rows else np.zeros((0, 0), np.int32)
            out[f"{s.key}#lengths"] = np.array([len(r) for r in rows], np.int64)
        else:
            out[s.key] = np.asarray(s.value)
    return out


def restore(obj: Any, arrays: dict[str, np.ndarray], source: Path | str) -> None:
    """Copy saved ``arrays`` into ``obj``, freshly built from the same scenario.

    Refuses (CheckpointError) a checkpoint whose arrays do not match what ``obj`` holds: another
    scheme, another population size, or another version of the engine.
    """
    slots = {s.key: s for s in _slots(obj)}
    names = {k for k in arrays if not k.endswith("#lengths")}
    # attributes a run sets after it starts (scratch kept from one step to the next) are set
    later = {k for k in names - set(slots) if _settable(obj, k)}
    if names - later != set(slots):
        missing = sorted(set(slots) - names)[:5]
        unknown = sorted(names - later - set(slots))[:5]
        raise CheckpointError(
            f"{source}: the checkpoint does not match this run (missing {missing}, "
            f"unknown {unknown}); it was written by another version of scslab or for another run"
        )
    for key in later:
        owner, attr = _parent(obj, key)
        saved = arrays[key]
        if f"{key}#lengths" in arrays:
            ends = np.cumsum(arrays[f"{key}#lengths"])
            setattr(
                owner, attr, [r.copy() for r in np.split(saved, ends[:-1])] if len(ends) else []
            )
        else:
            setattr(owner, attr, saved.item() if saved.ndim == 0 else saved.copy())
    for key, s in slots.items():
        saved = arrays[key]
        if isinstance(s.value, np.ndarray):
            if saved.shape != s.value.shape or saved.dtype != s.value.dtype:
                raise CheckpointError(
                    f"{source}: {key} has shape {saved.shape} and type {saved.dtype} in the "
                    f"checkpoint, {s.value.shape} and {s.value.dtype} in this run"
                )
            np.copyto(s.value, saved)
        elif isinstance(s.value, list):
            ends = np.cumsum(arrays[f"{key}#lengths"])
            rows = np.split(saved, ends[:-1]) if len(ends) else []
            _set(s, [np.ascontiguousarray(r) for r in rows])
        elif s.name is not None and not _is_namedtuple(s.owner):
            _set(s, type(s.value)(saved.item()))
        elif saved.item() != s.value:
            raise CheckpointError(
                f"{source}: {key} is {saved.item()} in the checkpoint, {s.value} in this run"
            )


def _parent(obj: Any, key: str) -> tuple[Any, str]:
    """The object that holds dotted ``key`` under ``obj``, and the last name (None if absent)."""
    *path, last = key.split(".")
    for name in path:
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return obj, last


def _settable(obj: Any, key: str) -> bool:
    """Whether ``key`` names an attribute that a walked object (a run, a shard) does not have
    yet: one a run sets during its first step."""
    owner, attr = _parent(obj, key)
    return owner is not None and _walked(owner) and not hasattr(owner, attr)


def _set(s: _Slot, value: Any) -> None:
    if isinstance(s.owner, dict):
        s.owner[s.key.rsplit(".", 1)[-1]] = value
    else:
        setattr(s.owner, s.name or "", value)


# --------------------------------------------------------------------------------------------
# the manifest


#: A part's file name: run id, month reached, part (shard) number.
PART = re.compile(r"^checkpoint\.(?:([0-9a-f]+)\.)?s(\d+)\.p(\d+)\.ckpt$")


def part_name(step: int, part: int, run: str) -> str:
    """The file of part ``part`` of run ``run`` after ``step`` months."""
    return f"checkpoint.{run}.s{step:06d}.p{part}.ckpt"


def new_run_id() -> str:
    """An id for a run's checkpoint parts, so that they never take an earlier run's names."""
    return secrets.token_hex(4)


@dataclass(frozen=True)
class Manifest:
    """What a checkpoint says about itself, read back from ``checkpoint.ckpt``."""

    folder: Path
    step: int
    steps: int
    every: int
    shards: int
    parts: tuple[tuple[str, str], ...]  # (file, sha256)
    scenario: str
    scheme: str
    catalogue: str
    also_personal: tuple[str, ...]
    started: datetime
    seconds: float
    version: str
    extra: dict[str, Any]
    #: the id in its parts' names ("" for a checkpoint written before ids)
    run: str = ""

    def part(self, k: int) -> dict[str, np.ndarray]:
        name, sha = self.parts[k]
        _, arrays = read_file(self.folder / name, sha)
        return arrays


@dataclass(frozen=True)
class Made:
    """What a run is made from, as the texts a checkpoint keeps to rebuild it. A layered run's
    layers' schemes are in the manifest's ``extra`` (``layered.schemes``), its ``scheme``
    empty."""

    scenario: str
    scheme: str
    catalogue: str
    also_personal: tuple[str, ...]
    steps: int

    @classmethod
    def of(cls, sim: Simulation) -> Made:
        from scslab.behaviour.rates import catalogue_text
        from scslab.schemes.loader import dump_scheme

        return cls(
            sim.scenario.to_yaml(),
            dump_scheme(sim.scheme),
            catalogue_text(sim.catalogue),
            tuple(sim.also_personal),
            sim.scenario.steps,
        )


def write_manifest(
    folder: Path,
    made: Made,
    step: int,
    every: int,
    parts: list[tuple[str, str]],
    started: datetime,
    seconds: float,
    extra: dict[str, Any] | None = None,
    *,
    run: str,
) -> None:
    """Point the run folder's checkpoint at ``parts`` (already written) of run ``run`` after
    ``step`` months, then remove the parts no manifest can name any more: this run's parts
    before ``step``, and other runs' parts. Parts of this run after ``step`` (a shard ahead of
    the others) are kept."""
    from scslab import __version__

    meta = {
        "kind": "manifest",
        "step": step,
        "steps": made.steps,
        "every": every,
        "shards": len(parts),
        "parts": [list(p) for p in parts],
        "scenario": made.scenario,
        "scheme": made.scheme,
        "catalogue": made.catalogue,
        "also_personal": list(made.also_personal),
        "started": started.isoformat(),
        "seconds": seconds,
        "version": __version__,
        "extra": extra or {},
        "run": run,
    }
    write_file(folder / MANIFEST, meta, {})
    keep = {name for name, _ in parts}
    for old in _parts(folder):
        m = PART.match(old.name)
        assert m is not None
        ahead = m.group(1) == run and int(m.group(2)) > step
        if old.name not in keep and not ahead:
            old.unlink(missing_ok=True)


def checkpointing(
    folder: Path,
    run: Any,
    made: Made,
    every: int,
    progress: Callable[[int, int], None] | None = None,
    *,
    resume: Manifest | None = None,
    extra: dict[str, Any] | None = None,
) -> Callable[[int, int], None]:
    """The progress callback of a run checkpointed every ``every`` months: after each such
    month (the last one excepted) it writes ``run``'s columns as the one part of a checkpoint
    and points the manifest at it, then calls ``progress``. ``resume``: the checkpoint the run
    continues from, whose start, time so far and run id it keeps; ``extra``: the manifest's."""
    if resume is not None:
        started, before, run_id = resume.started, resume.seconds, resume.run or new_run_id()
    else:  # an earlier checkpoint here stays until this run's first one replaces it
        started, before, run_id = datetime.now(UTC), 0.0, new_run_id()
    clock = time.perf_counter()

    def step_done(done: int, total: int) -> None:
        if done % every == 0 and done < total:
            name = part_name(done, 0, run_id)
            digest, _ = write_file(folder / name, {"kind": "part", "step": done}, columns(run))
            seconds = before + time.perf_counter() - clock
            parts = [(name, digest)]
            write_manifest(folder, made, done, every, parts, started, seconds, extra, run=run_id)
        if progress is not None:
            progress(done, total)

    return step_done


def _parts(folder: Path) -> list[Path]:
    return [p for p in folder.glob("checkpoint.*.ckpt") if PART.match(p.name)]


def read_manifest(folder: Path) -> Manifest:
    """The checkpoint of the run in ``folder``; CheckpointError if there is none or it is bad."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such run folder")
    if not path.exists():
        raise CheckpointError(
            f"{folder}: no checkpoint here; runs write one with --checkpoint-every N "
            "(sharded runs always do)"
        )
    meta, _ = read_file(path)
    try:
        return Manifest(
            folder=folder,
            step=int(meta["step"]),
            steps=int(meta["steps"]),
            every=int(meta["every"]),
            shards=int(meta["shards"]),
            parts=tuple((str(f), str(s)) for f, s in meta["parts"]),
            scenario=str(meta["scenario"]),
            scheme=str(meta["scheme"]),
            catalogue=str(meta["catalogue"]),
            also_personal=tuple(meta["also_personal"]),
            started=datetime.fromisoformat(meta["started"]),
            seconds=float(meta["seconds"]),
            version=str(meta["version"]),
            extra=dict(meta["extra"]),
            run=str(meta.get("run", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a checkpoint manifest ({exc})") from None


def discard(folder: Path) -> None:
    """Remove the run folder's checkpoint: the manifest first, so no part is left named."""
    (folder / MANIFEST).unlink(missing_ok=True)
    for old in _parts(folder):
        old.unlink(missing_ok=True)
    clean_leftovers(folder, ("checkpoint",))
