"""Reliability of long sweeps: stopping by signal, orphan workers, claims, damaged cells, full or
read-only disks, diverging training, and method code that changed under stored cells."""
from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from benchmark.cli import main
from benchmark.core.errors import AlbenchError
from benchmark.core.registry import discover
from benchmark.execute import store as store_module
from benchmark.execute.claims import ClaimBoard, StoreWriteError, pid_alive
from benchmark.execute.executors import run_and_store, run_inline
from benchmark.execute.store import DamagedCellError, DamagedCellWarning, ResultStore
from benchmark.execute.suite import expand, load_suite
from benchmark.report.consolidate import consolidate
from tests.conftest import REPO, forget_plugin, tiny_suite, tree_digest

discover()

PLUGIN = '''
import os
import time
from benchmark.core.registry import register_method
from benchmark.select.api import QueryStrategy


@register_method("NAME")
class Counting(QueryStrategy):
    """Random picks; every select call appends "<tag> <pid>" to ``log`` (to count how often a cell ran),
    after waiting until the file ``gate`` exists (a cell that runs until the test lets it finish)."""

    version = "1"

    def __init__(self, tag: int = 0, log: str = "", gate: str = ""):
        self.tag, self.log, self.gate = tag, log, gate

    def select(self, view, k, rng):
        while self.gate and not os.path.exists(self.gate):
            time.sleep(0.02)
        with open(self.log, "a") as fh:
            fh.write(f"{self.tag} {os.getpid()}\\n")
        return rng.choice(view.unlabelled, k, replace=False)
'''


def _plugin(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"{name}.py"
    file.write_text(PLUGIN.replace("NAME", name))
    return file


@pytest.fixture(scope="module")
def counting(tmp_path_factory):
    """A plugin folder with the method `counting`."""
    folder = tmp_path_factory.mktemp("plugins")
    file = _plugin(folder, "counting")
    yield folder
    forget_plugin("counting", file)


# ------------------------------------------------------------------ helpers
def _suite_file(tmp_path: Path, **over) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(tiny_suite(**over)))
    return path


def _driver(*args: str, cwd: Path) -> subprocess.Popen:
    """`albench run ...` in its own process group (as a terminal would run it)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "benchmark.cli", "run", *args, "--no-progress"], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (the workers and multiprocessing's resource tracker), from /proc."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def _claims(results: Path) -> list[str]:
    folder = results / "claims"
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def _gone_after(pids: list[int], since: float, timeout: float) -> float:
    """Seconds from ``since`` until none of ``pids`` runs (zombies count as gone)."""
    _wait_for(lambda: not any(pid_alive(p) for p in pids), timeout, f"processes {pids} to exit")
    return time.monotonic() - since


@dataclasses.dataclass
class Sweep:
    proc: subprocess.Popen
    suite: Path
    results: Path
    gate: Path
    plugins: Path

    def rerun(self) -> int:
        self.gate.touch()
        return main(["run", str(self.suite), "--results", str(self.results), "--plugins", str(self.plugins),
                     "--executor", "inline", "--no-progress"])


SIGNAL_CASES = ("ctrl-c", "sigterm-then-second-signal", "sigkill")


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory, counting):
    """Every driver these tests need, started at once so that their start-up overlaps: one per signal
    case (3 cells, 2 local workers, cells that wait at a closed gate until the test opens it), and two
    drivers (local and inline) on one results folder with 4 cells that run at once."""
    started = {}
    for case in SIGNAL_CASES:
        folder = tmp_path_factory.mktemp(case)
        gate = folder / "gate"
        methods = [{"name": "counting", "tag": t, "log": str(folder / "runs.log"), "gate": str(gate)} for t in range(3)]
        suite = _suite_file(folder, methods=methods)
        results = folder / "results"
        proc = _driver(str(suite), "--results", str(results), "--plugins", str(counting), "--workers", "2",
                       cwd=folder)
        started[case] = Sweep(proc, suite, results, gate, counting)
    folder = tmp_path_factory.mktemp("concurrent")
    methods = [{"name": "counting", "tag": t, "log": str(folder / "runs.log"), "gate": str(folder / "gate")}
               for t in range(4)]
    suite = _suite_file(folder, methods=methods)
    common = [str(suite), "--results", str(folder / "results"), "--plugins", str(counting)]
    for name, executor in (("concurrent-local", ["--executor", "local", "--workers", "1"]),
                           ("concurrent-inline", ["--executor", "inline"])):
        started[name] = Sweep(_driver(*common, *executor, cwd=folder), suite, folder / "results", folder / "gate",
                              counting)
    yield started
    for sweep in started.values():
        if sweep.proc.poll() is None:
            sweep.proc.kill()
        sweep.proc.communicate()


def _running(sweep: Sweep) -> list[int]:
    """Wait until both workers run a cell; the driver's children."""
    _wait_for(lambda: len(_claims(sweep.results)) >= 2 or sweep.proc.poll() is not None, 120, "two running cells")
    assert sweep.proc.poll() is None, sweep.proc.communicate()[0]
    kids = _children(sweep.proc.pid)
    assert len(kids) >= 2
    return kids


def _assert_nothing_half_done(results: Path) -> None:
    store = ResultStore(results)
    cells = list(store.cells.iterdir()) if store.cells.is_dir() else []
    assert all(store.state(c.name).status == "done" for c in cells)
    assert not (store.tmp.is_dir() and any(store.tmp.iterdir()))
    assert _claims(results) == []  # released by the workers or pruned by the driver


# ------------------------------------------------------------------ signals
@pytest.mark.parametrize("case", SIGNAL_CASES[:2])
def test_signal_stops_sweep_within_seconds_and_next_run_resumes(case, sweeps, capsys):
    sweep = sweeps[case]
    kids = _running(sweep)
    t0 = time.monotonic()
    if case == "ctrl-c":
        os.killpg(sweep.proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
    else:
        os.kill(sweep.proc.pid, signal.SIGTERM)  # only the driver: its workers must go all the same
        time.sleep(0.05)
        os.kill(sweep.proc.pid, signal.SIGINT)  # a second signal: stop at once
    out, _ = sweep.proc.communicate(timeout=30)
    gone = _gone_after(kids, t0, 10)
    print(f"{case}: every child of the driver gone {gone:.2f} s after the signal")
    assert gone < 8, out
    assert sweep.proc.returncode in (128 + signal.SIGINT, 128 + signal.SIGTERM), out
    assert "No new cell was started" in out and "abandoned" in out
    _assert_nothing_half_done(sweep.results)
    assert not (sweep.results / "cells").exists()  # the gate kept every cell from finishing

    assert sweep.rerun() == 0
    assert "0 already done, 3 to run" in capsys.readouterr().out
    assert all(ResultStore(sweep.results).is_done(c.cell_id) for c in load_suite(sweep.suite).cells)


def test_sigkill_of_driver_leaves_no_worker_and_its_claims_are_taken_over(sweeps):
    sweep = sweeps["sigkill"]
    kids = _running(sweep)
    held = _claims(sweep.results)
    t0 = time.monotonic()
    sweep.proc.kill()
    sweep.proc.communicate(timeout=30)
    gone = _gone_after(kids, t0, 10)
    print(f"SIGKILL: every child of the driver gone {gone:.2f} s after the signal")
    assert gone < 5
    assert _claims(sweep.results) == held  # left behind by the killed workers...
    assert sweep.rerun() == 0
    assert all(ResultStore(sweep.results).is_done(c.cell_id) for c in load_suite(sweep.suite).cells)  # ...taken over
    assert _claims(sweep.results) == []


def test_worker_notices_a_dead_parent_without_the_kernel_hook(tmp_path):
    """The watch thread alone (as where PR_SET_PDEATHSIG does not exist) ends an orphaned worker."""
    child = ("import os, time; from benchmark.execute.executors import _die_with_parent; "
             "_die_with_parent(os.getppid(), use_prctl=False); print('ready', flush=True); time.sleep(60)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    parent = subprocess.Popen(["sh", "-c", f'"{sys.executable}" -c "{child}" & echo $!; wait'], env=env,
                              stdout=subprocess.PIPE, text=True)
    pid = int(parent.stdout.readline())
    assert parent.stdout.readline().strip() == "ready"
    t0 = time.monotonic()
    parent.kill()
    parent.wait()
    try:
        assert _gone_after([pid], t0, 10) < 3
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


# ------------------------------------------------------------------ claims
def test_two_concurrent_drivers_run_each_cell_exactly_once(sweeps):
    a, b = sweeps["concurrent-local"], sweeps["concurrent-inline"]
    _wait_for(lambda: len(_claims(a.results)) == 2 or a.proc.poll() is not None or b.proc.poll() is not None, 120,
              "both drivers to hold a cell")  # the local worker's and the inline driver's, at the gate
    a.gate.touch()
    out_a, _ = a.proc.communicate(timeout=180)
    out_b, _ = b.proc.communicate(timeout=180)
    assert a.proc.returncode == 0 and b.proc.returncode == 0, out_a + out_b
    runs = [line.split() for line in (a.suite.parent / "runs.log").read_text().splitlines()]
    rounds = tiny_suite()["scenario"]["rounds"]
    assert sorted(tag for tag, _ in runs) == sorted(str(t) for t in range(4) for _ in range(rounds))  # once each
    assert len({pid for _, pid in runs}) == 2  # both drivers ran cells
    assert "busy" in out_a + out_b  # a cell claimed by the other driver was left to it
    assert len(list((a.results / "cells").iterdir())) == 4 and _claims(a.results) == []


def _fake_claim(board: ClaimBoard, cell_id: str, host: str, pid: int, age: float = 0.0, pid_start=None) -> None:
    board.dir.mkdir(parents=True, exist_ok=True)
    path = board.dir / cell_id
    path.write_text(json.dumps({"host": host, "pid": pid, "pid_start": pid_start, "started": time.time() - age,
                                "token": "theirs"}))
    os.utime(path, (time.time() - age, time.time() - age))


def test_stale_claims_are_taken_over_and_live_ones_respected(tmp_path):
    board = ClaimBoard(tmp_path / "claims", stale_after=60)
    dead = subprocess.Popen(["true"])
    dead.wait()
    _fake_claim(board, "dead-pid", board.host, dead.pid)
    _fake_claim(board, "reused-pid", board.host, os.getpid(), pid_start=-1)  # same pid, other process start
    _fake_claim(board, "alive", board.host, os.getpid())
    _fake_claim(board, "far-fresh", "another-host", 12345, age=5)
    _fake_claim(board, "far-stale", "another-host", 12345, age=600)
    assert board.claim("alive") is None and board.claim("far-fresh") is None
    for cell in ("dead-pid", "reused-pid", "far-stale"):
        claim = board.claim(cell)
        assert claim is not None, cell
        assert board.holder(cell).pid == os.getpid() and board.holder(cell).token == claim.token
        claim.release()
        assert board.holder(cell) is None
    _fake_claim(board, "theirs", board.host, os.getpid())
    board.claim("x").release()
    assert board.holder("theirs") is not None  # release never removes another holder's claim


def test_racing_claims_have_one_winner(tmp_path):
    board = ClaimBoard(tmp_path / "claims")
    dead = subprocess.Popen(["true"])
    dead.wait()
    for cell, setup in (("fresh", None), ("stale", dead.pid)):
        if setup:
            _fake_claim(board, cell, board.host, setup)
        barrier = threading.Barrier(8)
        won: list[object] = []

        def race(cell=cell, barrier=barrier, won=won) -> None:
            barrier.wait()
            claim = board.claim(cell)
            if claim is not None:
                won.append(claim)

        threads = [threading.Thread(target=race) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1, cell


# ------------------------------------------------------------------ damaged cells
@pytest.fixture
def stored_cell(tmp_path):
    path = _suite_file(tmp_path, methods=("random",))
    store = ResultStore(tmp_path / "results")
    spec = load_suite(path).cells[0]
    [outcome] = run_inline([spec], store)
    assert outcome.status == "done"
    return path, store, spec


def test_truncated_rounds_is_damaged_for_status_skipped_by_reports_and_rerun(stored_cell, capsys):
    suite, store, spec = stored_cell
    rounds = store.cells / spec.cell_id / "rounds.parquet"
    half = rounds.stat().st_size // 2
    rounds.write_bytes(rounds.read_bytes()[:half])
    args = ["--results", str(store.root)]

    assert main(["status", str(suite), *args]) == 0
    out = capsys.readouterr().out
    assert "0 done" in out and "1 damaged" in out and "rounds.parquet has" in out

    reader = ResultStore(store.root)
    with pytest.warns(DamagedCellWarning, match=spec.cell_id):
        assert consolidate([spec], reader).empty
    with pytest.raises(DamagedCellError, match="rounds.parquet"):
        reader.read_summary(spec.cell_id)

    assert main(["run", str(suite), *args, "--executor", "inline", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "damaged:" in out and "moved to" in out
    assert ResultStore(store.root).is_done(spec.cell_id)
    [aside] = [p for p in store.damaged.iterdir() if p.is_dir()]
    assert aside.name.startswith(spec.cell_id) and (aside / "rounds.parquet").stat().st_size == half  # evidence kept
    assert "rounds.parquet" in aside.with_name(aside.name + ".problems.txt").read_text()


def test_altered_file_is_damaged_and_a_cell_without_manifest_is_accepted(stored_cell):
    _, store, spec = stored_cell
    folder = store.cells / spec.cell_id
    log = folder / "log.txt"
    original = log.read_bytes()
    log.write_bytes(original.replace(b"round", b"ROUND", 1))  # same size, other bytes
    state = ResultStore(store.root).state(spec.cell_id)
    assert state.status == "damaged" and "log.txt does not match its sha256" in state.problems[0]

    log.write_bytes(original)
    (folder / "MANIFEST.json").unlink()  # as cells stored before manifests were written
    summary = json.loads((folder / "summary.json").read_text())
    del summary["rounds_rows"]
    (folder / "summary.json").write_text(json.dumps(summary))
    assert ResultStore(store.root).state(spec.cell_id).status == "done"
    (folder / "predictions.npy").write_bytes(b"\x93NUMPY garbage")
    assert "predictions.npy is unreadable" in ResultStore(store.root).state(spec.cell_id).problems[0]


# ------------------------------------------------------------------ full disk, read-only folder
def test_full_disk_is_one_clear_error_and_leaves_the_store_as_it_was(stored_cell, monkeypatch, capsys):
    suite, store, spec = stored_cell
    other = expand(tiny_suite(methods=("random",), seeds=[1])).cells[0]
    before = tree_digest(store.root)

    def full(folder, *_args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store_module, "_write_manifest", full)
    result = dataclasses.replace(_result_of(store, spec), spec=other)
    with pytest.raises(StoreWriteError, match="No space left on device"):
        store.write_cell(result)
    assert tree_digest(store.root) == before and not any(store.tmp.iterdir())

    with pytest.raises(StoreWriteError):  # the worker entry point does not record it as the cell's failure
        run_and_store(other.to_dict(), str(store.root), None)
    assert tree_digest(store.root) == before and store.failed_ids() == set()

    suite2 = _suite_file(store.root.parent, methods=("random",), seeds=[0, 1])
    assert main(["run", str(suite2), "--results", str(store.root), "--executor", "inline", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("albench") and "error: Cannot write cell" in err
    assert "No space left on device (ENOSPC)" in err
    assert tree_digest(store.root) == before


def _result_of(store: ResultStore, spec):
    from benchmark.core.result import CellResult

    cid = spec.cell_id
    import pandas as pd

    return CellResult(spec=spec, rounds=store.read_rounds(cid),
                      selections=pd.read_parquet(store.cells / cid / "selections.parquet"),
                      predictions=store.read_predictions(cid), summary=store.read_summary(cid),
                      environment=store.read_environment(cid), log="x", test_labels=store.read_test_labels(cid))


def _without_write_permission(fn) -> str:
    """Run ``fn`` where the folder's write bits count: as this user, or as nobody in a forked child
    when running as root (root ignores them). Returns the error it raised, or "no error"."""
    if os.geteuid() != 0:
        try:
            fn()
        except AlbenchError as exc:
            return f"{type(exc).__name__}: {exc}"
        return "no error"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            os.setgid(65534)
            os.setuid(65534)
            try:
                fn()
                message = "no error"
            except AlbenchError as exc:
                message = f"{type(exc).__name__}: {exc}"
            except BaseException as exc:
                message = f"unexpected {type(exc).__name__}: {exc}"
            os.write(write, message.encode())
        finally:
            os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


def test_read_only_folder_is_one_clear_error_and_leaves_the_store_as_it_was(stored_cell):
    _, store, spec = stored_cell
    other = expand(tiny_suite(methods=("random",), seeds=[1])).cells[0]
    result = dataclasses.replace(_result_of(store, spec), spec=other)
    base = Path(tempfile.mkdtemp(prefix="albench-ro-"))
    try:
        os.chmod(base, 0o755)
        root = base / "results"
        shutil.copytree(store.root, root)
        for path in [root, *root.rglob("*")]:
            os.chmod(path, 0o555 if path.is_dir() else 0o444)
        before = tree_digest(root)
        ro = ResultStore(root)
        for action in (ro.check_writable, lambda: ro.write_cell(result), lambda: ro.claims.claim(other.cell_id)):
            message = _without_write_permission(action)
            assert message.startswith("StoreWriteError: Cannot") and "Permission denied" in message, message
        assert tree_digest(root) == before
        assert ResultStore(root).is_done(spec.cell_id)  # still readable and intact
    finally:
        for path in [base, *base.rglob("*")]:
            os.chmod(path, 0o755)
        shutil.rmtree(base)


# ------------------------------------------------------------------ diverging training
def test_nan_loss_is_stored_as_failed_with_the_reason(tmp_path):
    store = ResultStore(tmp_path / "results")
    spec = expand(tiny_suite(methods=("random",), learner={**tiny_suite()["learner"], "lr": 1e6})).cells[0]
    [outcome] = run_inline([spec], store)
    assert outcome.status == "failed" and not store.is_done(spec.cell_id)
    reason = store.failure_reason(spec.cell_id)
    assert "training diverged at epoch" in reason and "lower learner.lr" in reason and "round 0" in reason
    assert "nan" in reason or "inf" in reason


# ------------------------------------------------------------------ method source
@pytest.fixture
def edited(tmp_path):
    """A plugin folder with the method `edited`, whose file the test changes."""
    file = _plugin(tmp_path / "plugins", "edited")
    yield file
    forget_plugin("edited", file)


def test_changed_method_source_with_same_version_warns(tmp_path, edited, capsys):
    suite = _suite_file(tmp_path, methods=[{"name": "edited", "log": str(tmp_path / "runs.log")}])
    args = ["run", str(suite), "--results", str(tmp_path / "results"), "--plugins", str(edited.parent),
            "--executor", "inline", "--no-progress"]
    assert main(args) == 0
    env = json.loads(next((tmp_path / "results" / "cells").glob("*/environment.json")).read_text())
    assert len(env["method_source"]["sha256"]) == 64 and env["method_source"]["files"] == [str(edited.resolve())]
    capsys.readouterr()

    assert main(args) == 0
    assert "warning" not in capsys.readouterr().err
    edited.write_text(edited.read_text() + "\n# a changed line\n")
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "1 already done, 0 to run" in captured.out  # the cell id, and so the stored cell, is kept
    assert "method 'edited' changed" in captured.err and str(edited.resolve()) in captured.err
    assert "bump `version`" in captured.err
