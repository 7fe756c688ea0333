"""The CUDA MPS daemon around local workers (``albench run --mps``), with a fake
``nvidia-cuda-mps-control`` on PATH that logs what it is asked and keeps its pipe in a temp folder."""
from __future__ import annotations

import os
import stat

import pytest

from benchmark.execute import executors
from benchmark.execute.mps import mps_for_workers, wanted
from benchmark.execute.store import ResultStore
from benchmark.execute.suite import expand
from tests.conftest import tiny_suite

FAKE = """#!/bin/sh
pipe="${CUDA_MPS_PIPE_DIRECTORY:-/tmp/nvidia-mps}"
if [ "$1" = "-d" ]; then
    echo start >> "$FAKE_MPS_LOG"
    [ -n "$FAKE_MPS_FAIL" ] && { echo "cannot start: no GPU" >&2; exit 1; }
    mkdir -p "$pipe" && touch "$pipe/control"
    exit 0
fi
read -r cmd
echo "$cmd" >> "$FAKE_MPS_LOG"
case "$cmd" in
    get_server_list) [ -e "$pipe/control" ] ;;
    quit) rm -f "$pipe/control" ;;
esac
"""


@pytest.fixture
def fake_mps(tmp_path, monkeypatch):
    """The fake binary first on PATH; its pipe folder and log under tmp_path. Returns the log reader."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "nvidia-cuda-mps-control"
    tool.write_text(FAKE)
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "mps.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CUDA_MPS_PIPE_DIRECTORY", str(tmp_path / "pipe"))
    monkeypatch.setenv("FAKE_MPS_LOG", str(log))

    def calls() -> list[str]:
        return log.read_text().split() if log.exists() else []

    calls.pipe = tmp_path / "pipe"  # type: ignore[attr-defined]
    return calls


def test_wanted_only_for_workers_sharing_a_gpu():
    assert wanted("auto", [0, 0], gpu=True) and wanted("auto", [0, 1, 0], gpu=True)
    assert not wanted("auto", [0, 1], gpu=True)  # one worker per GPU
    assert not wanted("auto", [0, 0], gpu=False)  # CPU workers
    assert wanted("on", [0], gpu=True) and not wanted("on", [0, 0], gpu=False)
    assert not wanted("off", [0, 0], gpu=True)
    with pytest.raises(ValueError, match="mps mode"):
        wanted("maybe", [0], gpu=True)


def test_starts_the_daemon_for_shared_gpus_and_stops_it_at_the_end(fake_mps):
    said = []
    with mps_for_workers("auto", [0, 0], True, said.append) as state:
        assert state.started and (fake_mps.pipe / "control").exists()
        assert fake_mps() == ["start", "get_server_list"]  # started, then checked that it answers
    assert fake_mps() == ["start", "get_server_list", "quit"]
    assert not (fake_mps.pipe / "control").exists()
    assert "started the control daemon" in said[0] and "2 workers on 1 GPU(s)" in said[0]
    assert said[-1] == "stopped the MPS control daemon albench started"


def test_a_daemon_started_here_is_stopped_when_the_run_fails(fake_mps):
    with pytest.raises(RuntimeError), mps_for_workers("on", [0], True, lambda _: None):
        raise RuntimeError("a worker crashed")
    assert fake_mps()[-1] == "quit"


def test_attaches_to_a_running_daemon_and_leaves_it_running(fake_mps):
    fake_mps.pipe.mkdir()
    (fake_mps.pipe / "control").touch()
    said = []
    with mps_for_workers("auto", [0, 0, 1, 1], True, said.append) as state:
        assert state.action == "attached"
    assert fake_mps() == ["get_server_list"]  # no start, no quit
    assert (fake_mps.pipe / "control").exists()
    assert "attached" in said[0] and "left running" in said[0] and "4 workers on 2 GPU(s)" in said[0]


def test_a_stale_pipe_folder_is_not_a_running_daemon(fake_mps):
    fake_mps.pipe.mkdir()  # the folder of a daemon that died, without its control pipe
    with mps_for_workers("auto", [0, 0], True, lambda _: None) as state:
        assert state.started
    assert fake_mps() == ["start", "get_server_list", "quit"]


@pytest.mark.parametrize("mode, slots, gpu", [("auto", [0, 1], True), ("auto", [0, 0], False), ("off", [0, 0], True),
                                              ("on", [0, 1], False)])
def test_nothing_runs_when_mps_is_not_wanted(fake_mps, mode, slots, gpu):
    said = []
    with mps_for_workers(mode, slots, gpu, said.append) as state:
        assert state.action == "none"
    assert fake_mps() == []
    if mode == "off":
        assert said == ["MPS off (--mps off): 2 workers on 1 GPU(s) time-share them"]


def test_a_daemon_that_cannot_start_is_a_warning(fake_mps, monkeypatch):
    monkeypatch.setenv("FAKE_MPS_FAIL", "1")
    said = []
    with mps_for_workers("auto", [0, 0], True, said.append) as state:
        assert state.action == "failed"
    assert fake_mps() == ["start"]  # and no quit
    assert said[0].startswith("warning: MPS could not be started") and "cannot start: no GPU" in said[0]


def test_no_binary_is_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    said = []
    with mps_for_workers("auto", [0, 0], True, said.append) as state:
        assert state.action == "unavailable"
    assert "nvidia-cuda-mps-control is not on PATH" in said[0]


def test_local_executor_starts_mps_for_two_workers_on_one_gpu(fake_mps, tmp_path, monkeypatch):
    """Two workers on one (pretended) GPU: MPS starts before them and stops after; the cells are stored.
    The workers see CUDA_VISIBLE_DEVICES=0 and no CUDA here, so they run on the CPU."""
    monkeypatch.setattr(executors, "count_gpus", lambda: 1)
    cells = expand(tiny_suite(methods=("random", "entropy"))).cells
    store = ResultStore(tmp_path / "results")
    said = []
    outcomes = executors.run_local(cells, store, workers=2, threads=1, say=said.append)
    assert [o.status for o in outcomes] == ["done", "done"]
    assert fake_mps() == ["start", "get_server_list", "quit"]
    assert "started the control daemon" in said[0] and said[-1].startswith("stopped")


def test_cli_passes_mps_to_the_local_executor_only(tiny_suite_file, capsys):
    from benchmark.cli import main

    path = str(tiny_suite_file())
    assert main(["run", path, "--executor", "inline", "--mps", "off"]) == 2
    assert "--mps applies to the local executor only" in capsys.readouterr().err
    assert main(["run", path, "--mps", "sometimes"]) == 2
