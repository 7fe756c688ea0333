"""Portable result stores: ``albench store export SUITE OUT`` and ``albench store import ARCHIVE``.

An archive is one tar file (``.tar.gz``, ``.tgz`` or ``.tar.xz`` with the standard library alone;
``.tar.zst`` when the ``zstandard`` module is importable)::

    ARCHIVE.json                          the first member: format, suite, where and when it was
                                          written, and the bytes and sha256 of every member below
    cells/<cell_id>/<file>                a finished cell's folder as the store keeps it (MANIFEST.json too)
    checkpoints/<cell_id>/round.pkl       a paused cell's round checkpoint (and round.json beside it)

Export writes the suite's finished cells (each verified first: a damaged cell is left out and
reported) and the round checkpoints of its unfinished cells, into a temporary file renamed into
place at the end. Import is all or nothing: every member is extracted into a staging folder of the
store and checked against ARCHIVE.json, and every cell against its own manifest
(``store.cell_problems``), before anything moves into the store; a damaged or altered archive is
refused with one ``ArchiveError`` and the store left as it was. Then, cell by cell (each an atomic
rename): a cell the store lacks is added, an identical one (same files, same checksums) is left
alone, a *different* cell with the same id is never overwritten but reported with the files that
differ (two machines computed the same cell: their timings and logs differ), and a damaged copy in
the store is moved aside (``damaged/``) and replaced. A checkpoint is added when the store has
neither the cell nor a checkpoint at least as far along, and the cell is not being run here. So
importing twice changes nothing the second time, and stores gathered on several machines merge
into one by exporting each and importing them all.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import shutil
import tarfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from benchmark.core.digest import file_digest
from benchmark.core.errors import AlbenchError
from benchmark.core.spec import CellSpec
from benchmark.execute.claims import write_error
from benchmark.execute.store import CELL_FILES, MANIFEST, ResultStore, cell_problems
from benchmark.scenarios.checkpoint import FILE as CHECKPOINT_FILE
from benchmark.scenarios.checkpoint import ROUND_FILE, next_round

INDEX = "ARCHIVE.json"
FORMAT = 1
SUFFIXES = {".tar.gz": "gz", ".tgz": "gz", ".tar.xz": "xz", ".tar.zst": "zst"}
_MEMBER = re.compile(r"^(cells|checkpoints)/([A-Za-z0-9_-]+)/([A-Za-z0-9_][A-Za-z0-9_.-]*)$")
_CHECKPOINT_FILES = (CHECKPOINT_FILE, ROUND_FILE)
_ALLOWED = {"cells": set(CELL_FILES), "checkpoints": set(_CHECKPOINT_FILES)}

__all__ = ["ArchiveError", "ExportReport", "ImportReport", "export_cells", "import_archive"]


class ArchiveError(AlbenchError):
    """An archive that cannot be written, read or verified."""


@dataclass
class ExportReport:
    path: Path
    cells: int = 0
    checkpoints: int = 0
    damaged: list[str] = field(default_factory=list)  # cells left out: they fail verification
    volumes: list[Path] = field(default_factory=list)  # the files written: ``path``, then its parts
    bytes: int = 0

    def line(self) -> str:
        per_cell = f" ({self.bytes / max(1, self.cells) / 1024:.0f} KiB per cell)" if self.cells else ""
        damaged = f"; left out {len(self.damaged)} damaged cell(s): {', '.join(self.damaged)}" if self.damaged else ""
        where = (str(self.path) if len(self.volumes) <= 1
                 else f"{len(self.volumes)} volumes ({', '.join(str(v) for v in self.volumes)})")
        return (f"exported {self.cells} finished cell(s) and {self.checkpoints} round checkpoint(s) to {where}: "
                f"{self.bytes / 2**20:.2f} MiB{per_cell}{damaged}")


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    identical: list[str] = field(default_factory=list)
    conflicts: dict[str, list[str]] = field(default_factory=dict)  # cell id → files that differ; kept the store's
    replaced_damaged: list[str] = field(default_factory=list)
    checkpoints_added: list[str] = field(default_factory=list)
    checkpoints_kept: list[str] = field(default_factory=list)  # the store's own is as far along, or the cell runs here

    def lines(self) -> list[str]:
        out = [f"imported {len(self.added)} cell(s), {len(self.identical)} already present and identical, "
               f"{len(self.conflicts)} conflicting (kept the store's), {len(self.replaced_damaged)} damaged "
               f"cell(s) replaced; {len(self.checkpoints_added)} round checkpoint(s) added, "
               f"{len(self.checkpoints_kept)} kept as they were"]
        for cid, files in sorted(self.conflicts.items()):
            out.append(f"conflict: cell {cid} differs from the store's copy in {', '.join(files)}; the store's copy "
                       f"is kept (the same cell computed twice, e.g. on two machines)")
        return out


def _compression(path: Path) -> str:
    name = path.name.lower()
    for suffix, kind in SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    raise ArchiveError(f"{path}: an archive's name must end in .tar.gz (or .tgz, .tar.xz: the standard library "
                       f"alone) or .tar.zst (needs the zstandard module), got {path.name!r}")


def _zstandard() -> Any:
    try:
        import zstandard
    except ImportError:
        raise ArchiveError("a .tar.zst archive needs the zstandard module (pip install zstandard); .tar.gz and "
                           ".tar.xz need nothing beyond Python") from None
    return zstandard


# ------------------------------------------------------------------ export
Unit = list[tuple[str, Path]]  # the files of one cell or checkpoint: (name in the archive, file)


def _units(store: ResultStore, cells: Sequence[CellSpec], checkpoints: bool, report: ExportReport) -> list[Unit]:
    """The files of each finished cell and, if asked, of the other cells' checkpoints."""
    units: list[Unit] = []
    for spec in cells:
        cid = spec.cell_id
        state = store.state(cid)
        if state.status == "done":
            folder = store.cells / cid
            units.append([(f"cells/{cid}/{name}", folder / name) for name in sorted(CELL_FILES)
                          if (folder / name).is_file()])  # what import accepts: nothing else found in the folder
            report.cells += 1
        elif state.status == "damaged":
            report.damaged.append(cid)
        elif checkpoints and next_round(store.checkpoint_dir(cid), cid) is not None:
            folder = store.checkpoint_dir(cid)
            units.append([(f"checkpoints/{cid}/{name}", folder / name) for name in _CHECKPOINT_FILES])
            report.checkpoints += 1
    return units


@contextmanager
def _open_for_writing(path: Path, kind: str) -> Iterator[tarfile.TarFile]:
    if kind == "zst":
        zstandard = _zstandard()
        with open(path, "wb") as raw, zstandard.ZstdCompressor(level=10).stream_writer(raw) as stream, \
                tarfile.open(fileobj=stream, mode="w|") as tar:
            yield tar
    elif kind == "xz":
        with tarfile.open(path, mode="w:xz") as tar:
            yield tar
    else:
        with tarfile.open(path, mode="w:gz") as tar:
            yield tar


def _add(tar: tarfile.TarFile, name: str, data: IO[bytes], size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(time.time()), 0o644
    tar.addfile(info, data)


def _write_volume(tmp: Path, kind: str, units: list[Unit], header: dict[str, Any]) -> int:
    """One self-contained archive of ``units`` (its own index first); its size in bytes."""
    members = [m for unit in units for m in unit]
    try:
        listed: dict[str, dict[str, Any]] = {name: {"bytes": path.stat().st_size, "sha256": file_digest(path)}
                                             for name, path in members}
    except OSError as exc:  # a cell or checkpoint vanished while being read (another run)
        raise ArchiveError(f"cannot read {exc.filename} while exporting: {exc.strerror}; run the export again") from None
    index = {**header, "cells": sum(n.startswith("cells/") for n, _ in (u[0] for u in units)),
             "checkpoints": sum(n.startswith("checkpoints/") for n, _ in (u[0] for u in units)), "files": listed}
    blob = (json.dumps(index, indent=1, sort_keys=True) + "\n").encode()
    with _open_for_writing(tmp, kind) as tar:
        _add(tar, INDEX, io.BytesIO(blob), len(blob))
        for name, path in members:
            with open(path, "rb") as fh:
                _add(tar, name, fh, listed[name]["bytes"])
    return tmp.stat().st_size


def volume_name(out: Path, k: int) -> Path:
    """The k-th volume of an export to ``out`` (k >= 1): ``out`` itself, then ``NAME.part2.tar.gz``, ..."""
    if k == 1:
        return out
    suffix = next(sfx for sfx in SUFFIXES if out.name.lower().endswith(sfx))
    return out.with_name(f"{out.name[: -len(suffix)]}.part{k}{out.name[-len(suffix):]}")


def export_cells(store: ResultStore, cells: Sequence[CellSpec], out: str | Path, suite: str = "",
                 checkpoints: bool = True, max_bytes: int | None = None) -> ExportReport:
    """Write the finished ``cells`` of ``store`` (and the round checkpoints of the unfinished ones) to
    the archive ``out``; see the module docstring. With ``max_bytes``, an archive over that size is
    split in halves (by cells) until every volume fits: ``out``, then ``NAME.part2.tar.gz``, ... each
    importable on its own; parts of an earlier export to ``out`` beyond the last one are removed."""
    out = Path(out)
    kind = _compression(out)
    report = ExportReport(out)
    units = _units(store, cells, checkpoints, report)
    header = {"format": FORMAT, "suite": suite, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "host": platform.node(), "store": str(store.root)}
    written: list[tuple[Path, int]] = []

    def volumes(chunk: list[Unit]) -> None:
        tmp = out.with_name(f".{out.name}.{os.getpid()}-{uuid.uuid4().hex[:6]}.tmp")
        try:
            written.append((tmp, _write_volume(tmp, kind, chunk, header)))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if max_bytes is None or written[-1][1] <= max_bytes:
            return
        tmp.unlink()
        written.pop()
        if len(chunk) == 1:
            raise ArchiveError(f"{chunk[0][0][0].rsplit('/', 1)[0]} alone compresses to more than "
                               f"{max_bytes / 2**20:.2f} MiB; give a larger --max-mib")
        volumes(chunk[: len(chunk) // 2])
        volumes(chunk[len(chunk) // 2:])

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        volumes(units)
        for k, (tmp, size) in enumerate(written, start=1):
            os.replace(tmp, volume_name(out, k))
            report.volumes.append(volume_name(out, k))
            report.bytes += size
        k = len(written) + 1
        while volume_name(out, k).exists():  # a stale part of an earlier, larger export
            volume_name(out, k).unlink()
            k += 1
    except OSError as exc:
        raise write_error("write the archive", out.parent, exc) from None
    finally:
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
    return report


# ------------------------------------------------------------------ import
@contextmanager
def _open_for_reading(path: Path) -> Iterator[tarfile.TarFile]:
    """The archive as a stream of members; the compression is read from its first bytes."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ArchiveError(f"cannot read the archive {path}: {exc.strerror or exc}") from None
    if magic == b"\x28\xb5\x2f\xfd":
        zstandard = _zstandard()
        with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream, \
                tarfile.open(fileobj=stream, mode="r|") as tar:
            yield tar
    else:
        with tarfile.open(path, mode="r|*") as tar:
            yield tar


def _extract(archive: Path, staging: Path) -> dict[str, Any]:
    """Every member into ``staging``, checked against ARCHIVE.json; the index. Raises ArchiveError."""
    index: dict[str, Any] | None = None
    seen: set[str] = set()
    with _open_for_reading(archive) as tar:
        for member in tar:
            if index is None:
                if member.name != INDEX or not member.isfile():
                    raise ArchiveError(f"{archive} is not an albench archive: its first member is {member.name!r}, "
                                       f"not {INDEX}")
                data = tar.extractfile(member)
                assert data is not None
                index = json.loads(data.read())
                if not isinstance(index, dict) or index.get("format") != FORMAT or not isinstance(index.get("files"), dict):
                    raise ArchiveError(f"{archive}: {INDEX} is not a format-{FORMAT} albench index")
                continue
            name = member.name
            entry = index["files"].get(name)
            match = _MEMBER.match(name)
            if (not member.isfile() or match is None or match[3] not in _ALLOWED[match[1]] or entry is None
                    or name in seen):
                raise ArchiveError(f"{archive} holds {name!r}, which its {INDEX} does not list as a cell or "
                                   f"checkpoint file (or lists twice)")
            seen.add(name)
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            digest = hashlib.sha256()
            with open(target, "wb") as fh:
                while block := source.read(1 << 20):
                    digest.update(block)
                    fh.write(block)
            if target.stat().st_size != entry["bytes"] or digest.hexdigest() != entry["sha256"]:
                raise ArchiveError(f"{archive}: {name} does not match its size and sha256 in {INDEX}")
    if index is None:
        raise ArchiveError(f"{archive} is empty")
    missing = sorted(set(index["files"]) - seen)
    if missing:
        raise ArchiveError(f"{archive} lacks {len(missing)} file(s) its {INDEX} lists, e.g. {missing[0]}")
    return index


def _listing(folder: Path) -> dict[str, str]:
    """file name → sha256: from the folder's manifest when it has one, else computed."""
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            files = json.loads(manifest.read_text())["files"]
            return {name: str(entry["sha256"]) for name, entry in files.items()}
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return {p.name: file_digest(p) for p in sorted(folder.iterdir()) if p.is_file()}


def _differing(a: Path, b: Path) -> list[str]:
    la, lb = _listing(a), _listing(b)
    return sorted(name for name in set(la) | set(lb) if la.get(name) != lb.get(name))


def _verify_cells(staging: Path, archive: Path) -> None:
    folder = staging / "cells"
    for cell in sorted(folder.iterdir()) if folder.is_dir() else []:
        problems = cell_problems(cell)
        if problems:
            raise ArchiveError(f"{archive}: cell {cell.name} fails verification ({'; '.join(problems)})")
    folder = staging / "checkpoints"
    for ckpt in sorted(folder.iterdir()) if folder.is_dir() else []:
        if next_round(ckpt, ckpt.name) is None:
            raise ArchiveError(f"{archive}: the checkpoint of cell {ckpt.name} has no valid {ROUND_FILE}")


def _merge_cell(store: ResultStore, staged: Path, report: ImportReport) -> None:
    cid = staged.name
    final = store.cells / cid
    state = store.state(cid)
    if state.status == "damaged":
        store.quarantine(cid)
        report.replaced_damaged.append(cid)
        state = store.state(cid)
    if state.status == "missing":
        store.cells.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staged, final)
            shutil.rmtree(store.failed / cid, ignore_errors=True)  # an earlier failure is superseded
            shutil.rmtree(store.checkpoint_dir(cid), ignore_errors=True)  # so is a partial run's checkpoint
            if cid not in report.replaced_damaged:
                report.added.append(cid)
            return
        except OSError:
            if not final.exists():
                raise
            # another writer stored the cell meanwhile: compare with that one
    differ = _differing(final, staged)
    if differ:
        report.conflicts[cid] = differ
    else:
        report.identical.append(cid)


def _merge_checkpoint(store: ResultStore, staged: Path, live: set[str], report: ImportReport) -> None:
    cid = staged.name
    target = store.checkpoint_dir(cid)
    theirs = next_round(staged, cid)
    ours = next_round(target, cid)
    if store.state(cid).status == "done" or cid in live or (ours is not None and theirs is not None and ours >= theirs):
        report.checkpoints_kept.append(cid)
        return
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(staged, target)
    report.checkpoints_added.append(cid)


def import_archive(store: ResultStore, archive: str | Path) -> ImportReport:
    """Merge the archive into ``store``; see the module docstring. A damaged or altered archive raises
    ArchiveError and leaves the store as it was."""
    archive = Path(archive)
    if not archive.is_file():
        raise ArchiveError(f"no archive {archive}: give a file written by `albench store export`")
    store.check_writable()
    tmp_existed = store.tmp.exists()
    staging = store.tmp / f"import-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir(parents=True)
        try:
            _extract(archive, staging)
            _verify_cells(staging, archive)
        except ArchiveError as exc:
            raise ArchiveError(f"{exc}; nothing was imported") from None
        except OSError as exc:
            if exc.filename is not None and Path(exc.filename).resolve().is_relative_to(staging.resolve()):
                raise write_error("import into", store.root, exc) from None  # writing here, not reading there
            raise ArchiveError(f"{archive} cannot be read ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
                               f"nothing was imported") from None
        except Exception as exc:  # zlib, lzma, zstd, tar or JSON errors: the archive's bytes are damaged
            raise ArchiveError(f"{archive} is damaged or not an albench archive ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:200]}); nothing was imported") from None
        report = ImportReport()
        live = set(store.claims.live())
        for staged in sorted((staging / "cells").iterdir()) if (staging / "cells").is_dir() else []:
            _merge_cell(store, staged, report)
        for staged in sorted((staging / "checkpoints").iterdir()) if (staging / "checkpoints").is_dir() else []:
            _merge_checkpoint(store, staged, live, report)
        return report
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not tmp_existed:
            try:
                store.tmp.rmdir()
            except OSError:
                pass
