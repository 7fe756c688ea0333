"""Portable result stores: ``albench store export`` / ``albench store import`` round trips, damaged
archives refused with the store unchanged, overlapping stores merged without overwriting."""
from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
import yaml

from benchmark.cli import main
from benchmark.execute.archive import INDEX, ArchiveError, export_cells, import_archive
from benchmark.execute.store import MANIFEST, ResultStore
from benchmark.execute.suite import load_suite
from benchmark.scenarios.checkpoint import next_round
from tests.conftest import tiny_suite, tree_digest


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Store A ran cells 0-1 of a 3-cell suite, store B cells 1-2 (cell 1 in both: the same cell computed
    twice, so its timings and log differ) and holds a round checkpoint of cell 0."""
    root = tmp_path_factory.mktemp("archive")
    suite = root / "suite.yaml"
    suite.write_text(yaml.safe_dump(tiny_suite(methods=("random", "entropy", "margin"))))
    cells = load_suite(suite).cells
    a, b = root / "a", root / "b"
    for store, chosen in ((a, cells[:2]), (b, cells[1:])):
        ids = {c.cell_id for c in chosen}
        part = root / f"{store.name}.yaml"
        raw = yaml.safe_load(suite.read_text())
        raw["method"] = [c.method.name for c in cells if c.cell_id in ids]
        part.write_text(yaml.safe_dump(raw))
        assert main(["run", str(part), "--results", str(store), "--executor", "inline", "--no-progress"]) == 0
    ckpt = ResultStore(b).checkpoint_dir(cells[0].cell_id)  # a paused cell 0 in B: its round-1 checkpoint
    from benchmark.scenarios.runner import run_cell

    class Stop(Exception):
        pass

    def stop_after_round_0(row):
        if row["round"] == 0:
            raise Stop

    with pytest.raises(Stop):
        run_cell(cells[0], checkpoints=ckpt, on_round=stop_after_round_0)
    return {"suite": suite, "cells": cells, "a": a, "b": b, "root": root}


def _export(stores, which: str, name: str, *extra: str) -> Path:
    out = stores["root"] / name
    assert main(["store", "export", str(stores["suite"]), str(out), "--results", str(stores[which]), *extra]) == 0
    return out


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_export_then_import_into_an_empty_store_gives_the_same_cells(stores, tmp_path, capsys):
    archive = _export(stores, "a", "a.tar.gz")
    assert "exported 2 finished cell(s) and 0 round checkpoint(s)" in capsys.readouterr().out
    fresh = tmp_path / "fresh"
    assert main(["store", "import", str(archive), "--results", str(fresh)]) == 0
    assert "imported 2 cell(s), 0 already present" in capsys.readouterr().out
    source, target = ResultStore(stores["a"]), ResultStore(fresh)
    for c in stores["cells"][:2]:
        assert target.state(c.cell_id).status == "done"
        assert tree_digest(source.cells / c.cell_id) == tree_digest(target.cells / c.cell_id)
    assert not target.tmp.exists()  # the staging folder is gone
    before = tree_digest(fresh)
    assert main(["store", "import", str(archive), "--results", str(fresh)]) == 0  # idempotent
    assert "imported 0 cell(s), 2 already present and identical, 0 conflicting" in capsys.readouterr().out
    assert tree_digest(fresh) == before


def test_checkpoints_travel_and_resume(stores, tmp_path, capsys):
    archive = _export(stores, "b", "b.tar.gz")
    assert "exported 2 finished cell(s) and 1 round checkpoint(s)" in capsys.readouterr().out
    fresh = ResultStore(tmp_path / "fresh")
    report = import_archive(fresh, archive)
    first = stores["cells"][0]
    assert report.checkpoints_added == [first.cell_id]
    assert next_round(fresh.checkpoint_dir(first.cell_id), first.cell_id) == 1
    from benchmark.scenarios.runner import run_cell

    resumed = run_cell(first, checkpoints=fresh.checkpoint_dir(first.cell_id))
    assert "resumed from the checkpoint after round 0" in resumed.log
    _export(stores, "b", "b-cells.tar.gz", "--no-checkpoints")
    assert "and 0 round checkpoint(s)" in capsys.readouterr().out


def test_overlapping_stores_merge_without_overwriting(stores, tmp_path, capsys):
    """B's archive into a copy of A: cell 2 is added, cell 1 (computed in both) is a conflict and A's copy
    stays byte for byte; cell 0 is done in A, so B's checkpoint of it is not imported."""
    a = _copy(stores["a"], tmp_path / "a")
    cell0, cell1, cell2 = stores["cells"]
    kept = tree_digest(a / "cells" / cell1.cell_id)
    archive = _export(stores, "b", "b.tar.gz")
    capsys.readouterr()
    assert main(["store", "import", str(archive), "--results", str(a)]) == 0
    out = capsys.readouterr().out
    assert "imported 1 cell(s), 0 already present and identical, 1 conflicting (kept the store's)" in out
    ours, theirs = stores["a"] / "cells" / cell1.cell_id, stores["b"] / "cells" / cell1.cell_id
    differing = sorted(f.name for f in ours.iterdir() if f.name != MANIFEST
                       and f.read_bytes() != (theirs / f.name).read_bytes())
    assert differing, "cell 1 computed twice should differ in its timings"
    assert f"conflict: cell {cell1.cell_id} differs from the store's copy in {', '.join(differing)};" in out
    assert tree_digest(a / "cells" / cell1.cell_id) == kept
    store = ResultStore(a)
    assert all(store.is_done(c.cell_id) for c in stores["cells"])
    assert not store.checkpoint_dir(cell0.cell_id).exists()
    report = import_archive(store, archive)  # again: nothing changes, the conflict is reported again
    assert report.added == [] and report.identical == [cell2.cell_id] and list(report.conflicts) == [cell1.cell_id]
    assert report.checkpoints_kept == [cell0.cell_id]


def test_a_damaged_copy_in_the_store_is_replaced(stores, tmp_path):
    a = _copy(stores["a"], tmp_path / "a")
    cell0 = stores["cells"][0]
    (a / "cells" / cell0.cell_id / "predictions.npy").write_bytes(b"garbage")
    store = ResultStore(a)
    assert store.state(cell0.cell_id).status == "damaged"
    report = import_archive(store, _export(stores, "a", "a.tar.gz"))
    assert report.replaced_damaged == [cell0.cell_id] and store.state(cell0.cell_id).status == "done"
    assert len(list(store.damaged.iterdir())) == 2  # the damaged folder and its .problems.txt, kept as evidence


def _rewrite(archive: Path, out: Path, change) -> Path:
    """A copy of a .tar.gz archive with ``change(name, bytes) -> bytes | None`` applied (None: drop it)."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src:
            data = src.extractfile(member).read()
            new = change(member.name, data)
            if new is None:
                continue
            info = tarfile.TarInfo(member.name)
            info.size = len(new)
            dst.addfile(info, io.BytesIO(new))
    return out


def _altered_index(name, data):
    if name != INDEX:
        return data
    index = json.loads(data)
    for entry in index["files"].values():
        entry["sha256"] = "0" * 64
    return json.dumps(index).encode()


def _flip_last(name, data):
    return data[:-1] + bytes([data[-1] ^ 1]) if name.endswith("predictions.npy") else data


def _drop_manifest(name, data):
    return None if name.endswith("/MANIFEST.json") else data


DAMAGES = {
    "truncated": lambda archive, out: out.write_bytes(archive.read_bytes()[: len(archive.read_bytes()) // 2]) and out,
    "not gzip": lambda archive, out: out.write_bytes(b"this is not an archive at all") and out,
    "a cell file altered": lambda archive, out: _rewrite(archive, out, _flip_last),
    "index checksums wrong": lambda archive, out: _rewrite(archive, out, _altered_index),
    "a listed file missing": lambda archive, out: _rewrite(archive, out, _drop_manifest),
    "an unlisted file": lambda archive, out: _extra(archive, out),
    "a path outside the store": lambda archive, out: _extra(archive, out, "cells/../../evil.txt"),
}


def _extra(archive: Path, out: Path, name: str = "cells/0123456789abcdef/log.txt") -> Path:
    data = gzip.decompress(archive.read_bytes())
    with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(out, "w:gz") as dst:
        for member in src:
            dst.addfile(member, src.extractfile(member))
        info = tarfile.TarInfo(name)
        info.size = 3
        dst.addfile(info, io.BytesIO(b"bad"))
    return out


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_archive_is_refused_and_the_store_is_unchanged(stores, tmp_path, damage, capsys):
    target = _copy(stores["a"], tmp_path / "target")
    before = tree_digest(target)
    archive = _export(stores, "b", "b.tar.gz")
    bad = DAMAGES[damage](archive, tmp_path / "bad.tar.gz")
    capsys.readouterr()
    assert main(["store", "import", str(bad), "--results", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("albench store import: error: ") and err.count("\n") == 1, err
    assert str(bad) in err
    assert tree_digest(target) == before
    assert not (target / ".tmp").exists() or not any((target / ".tmp").iterdir())  # no staging folder left
    assert not (tmp_path / "evil.txt").exists()


def test_export_names_and_missing_archives_are_clear_errors(stores, tmp_path, capsys):
    assert main(["store", "export", str(stores["suite"]), str(tmp_path / "out.zip"), "--results",
                 str(stores["a"])]) == 2
    assert ".tar.gz" in capsys.readouterr().err
    assert not (tmp_path / "out.zip").exists()
    assert main(["store", "import", str(tmp_path / "nothing.tar.gz"), "--results", str(tmp_path / "s")]) == 2
    assert "no archive" in capsys.readouterr().err


def test_xz_round_trip_and_zst_without_the_module(stores, tmp_path, monkeypatch):
    archive = _export(stores, "a", "a.tar.xz")
    report = import_archive(ResultStore(tmp_path / "fresh"), archive)
    assert len(report.added) == 2
    import builtins

    real_import = builtins.__import__

    def no_zstandard(name, *args, **kwargs):
        if name == "zstandard":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_zstandard)
    with pytest.raises(ArchiveError, match="needs the zstandard module"):
        export_cells(ResultStore(stores["a"]), stores["cells"], tmp_path / "a.tar.zst")
    assert not list(tmp_path.glob("*.zst*"))


def test_a_damaged_cell_is_left_out_of_the_export(stores, tmp_path):
    a = _copy(stores["a"], tmp_path / "a")
    cell0 = stores["cells"][0]
    (a / "cells" / cell0.cell_id / "log.txt").write_text("edited")
    report = export_cells(ResultStore(a), stores["cells"], tmp_path / "a.tar.gz")
    assert report.cells == 1 and report.damaged == [cell0.cell_id]
    assert "left out 1 damaged cell(s)" in report.line()


def test_a_size_limit_splits_the_export_into_volumes_that_import_alone(stores, tmp_path, capsys):
    """Two cells of about 9 KiB compressed each: a 12 KiB limit gives one volume per cell; importing the
    volumes gives both cells; a later export that fits in one file removes the stale part."""
    out = tmp_path / "a.tar.gz"
    assert main(["store", "export", str(stores["suite"]), str(out), "--results", str(stores["a"]),
                 "--max-mib", str(12 / 1024)]) == 0
    assert "to 2 volumes" in capsys.readouterr().out
    part2 = tmp_path / "a.part2.tar.gz"
    assert out.stat().st_size <= 12 * 1024 and part2.stat().st_size <= 12 * 1024
    first = import_archive(ResultStore(tmp_path / "s1"), out)
    assert len(first.added) == 1
    assert main(["store", "import", str(out), str(part2), "--results", str(tmp_path / "s2")]) == 0
    store = ResultStore(tmp_path / "s2")
    assert all(store.is_done(c.cell_id) for c in stores["cells"][:2])
    report = export_cells(ResultStore(stores["a"]), stores["cells"], out)
    assert report.volumes == [out] and not part2.exists()
    with pytest.raises(ArchiveError, match="larger --max-mib"):
        export_cells(ResultStore(stores["a"]), stores["cells"], tmp_path / "b.tar.gz", max_bytes=1024)
    assert not list(tmp_path.glob("b*")) and not list(tmp_path.glob(".b*"))


def test_a_stray_file_in_a_cell_folder_stays_out_of_the_export(stores, tmp_path):
    """Only the store's own cell files travel (what import accepts); a file someone left beside them does not
    make the archive unimportable."""
    a = _copy(stores["a"], tmp_path / "a")
    cell = stores["cells"][0]
    (a / "cells" / cell.cell_id / "notes.txt").write_text("left here by hand")
    archive = tmp_path / "a.tar.gz"
    assert main(["store", "export", str(stores["suite"]), str(archive), "--results", str(a)]) == 0
    fresh = tmp_path / "fresh"
    assert main(["store", "import", str(archive), "--results", str(fresh)]) == 0
    assert ResultStore(fresh).state(cell.cell_id).status == "done"
    assert not (fresh / "cells" / cell.cell_id / "notes.txt").exists()
