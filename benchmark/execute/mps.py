"""CUDA MPS for local workers that share a GPU (``albench run --mps auto|on|off``).

Without MPS, the processes on one GPU time-slice it: one context runs at a time, so small kernels
from several workers never overlap. The Multi-Process Service funnels every client's work through
one server per GPU, so kernels from different workers run concurrently. The local executor calls
``mps_for_workers`` around its pool:

- ``auto`` (default): MPS when more than one worker will share a CUDA device, the machine has a GPU
  and ``nvidia-cuda-mps-control`` is on PATH; otherwise nothing happens (a missing binary is said).
- ``on``: MPS whenever the workers run on GPUs, even one worker per device.
- ``off``: never.

A control daemon that already answers (its pipe ``$CUDA_MPS_PIPE_DIRECTORY/control``, default
``/tmp/nvidia-mps/control``, exists and ``get_server_list`` succeeds) is attached to and left running.
Otherwise albench starts one (``nvidia-cuda-mps-control -d``) before the workers start and stops it
(``quit``) after they are gone, however the run ends. MPS never fails a run: a daemon that cannot be
started is a warning, and the workers share the GPU without it. Workers inherit the environment, so
a non-default ``CUDA_MPS_PIPE_DIRECTORY`` reaches them. When the default log folder
``/var/log/nvidia-mps`` is not writable (not root) and ``CUDA_MPS_LOG_DIRECTORY`` is unset, the daemon
albench starts logs to ``<tmp>/albench-mps-log-<uid>/``.

Two albench drivers on one machine: the first to end stops the daemon it started while the other's
workers may still use it (``quit`` lets running clients finish but refuses new ones); start the daemon
yourself first (``nvidia-cuda-mps-control -d``), and both attach and leave it running.

Whether MPS helps is measured, not assumed: run the same slice with ``--mps off`` and ``--mps on``
(``make bench-sweep`` reports cells per hour and the GPU busy fraction; ``albench profile`` the
per-phase GPU-busy seconds).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MPS_CONTROL = "nvidia-cuda-mps-control"
MODES = ("auto", "on", "off")
DEFAULT_PIPE_DIR = "/tmp/nvidia-mps"
DEFAULT_LOG_DIR = "/var/log/nvidia-mps"
START_WAIT_S = 5.0  # how long a daemon just started gets to answer


@dataclass
class MpsState:
    """What ``mps_for_workers`` did: ``action`` is "none" (not wanted or not needed), "unavailable"
    (wanted, but no binary or no GPU), "attached", "started" or "failed" (could not start)."""

    action: str
    message: str = ""

    @property
    def started(self) -> bool:
        return self.action == "started"


def pipe_directory() -> Path:
    return Path(os.environ.get("CUDA_MPS_PIPE_DIRECTORY") or DEFAULT_PIPE_DIR)


def _control(command: str, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Send one command to the control daemon (``echo command | nvidia-cuda-mps-control``)."""
    return subprocess.run([MPS_CONTROL], input=command + "\n", capture_output=True, text=True, timeout=timeout,
                          env=env)


def daemon_running() -> bool:
    """An MPS control daemon answers on this environment's pipe folder."""
    if not (pipe_directory() / "control").exists():
        return False  # no pipe: nothing to ask (and no client left waiting for an answer)
    try:
        return _control("get_server_list", timeout=5).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _daemon_env() -> tuple[dict[str, str], str]:
    """The environment to start the daemon in, and a note on where it logs when that was changed."""
    env = dict(os.environ)
    if env.get("CUDA_MPS_LOG_DIRECTORY"):
        return env, ""
    default = Path(DEFAULT_LOG_DIR)
    writable = os.access(default, os.W_OK) if default.exists() else os.access(default.parent, os.W_OK)
    if writable:
        return env, ""
    log_dir = Path(tempfile.gettempdir()) / f"albench-mps-log-{os.getuid()}"
    log_dir.mkdir(parents=True, exist_ok=True)
    env["CUDA_MPS_LOG_DIRECTORY"] = str(log_dir)
    return env, f"; it logs to {log_dir}"


def _start(env: dict[str, str]) -> str | None:
    """Start the control daemon; None on success, else why not. Its output goes to a file, not a pipe,
    so that the daemon's inherited descriptors cannot keep this call waiting."""
    with tempfile.TemporaryFile("w+") as err:
        try:
            rc = subprocess.run([MPS_CONTROL, "-d"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, env=env, timeout=30).returncode
        except (OSError, subprocess.SubprocessError) as exc:
            return f"{MPS_CONTROL} -d: {exc}"
        err.seek(0)
        text = " ".join(err.read().split())[:300]
    if rc != 0:
        return f"{MPS_CONTROL} -d exited with {rc}" + (f": {text}" if text else "")
    deadline = time.monotonic() + START_WAIT_S
    while not daemon_running():
        if time.monotonic() > deadline:
            try:  # whatever did start should not outlive the run
                _control("quit", timeout=5, env=env)
            except (OSError, subprocess.SubprocessError):
                pass
            return f"{MPS_CONTROL} -d returned but the daemon does not answer on {pipe_directory()}"
        time.sleep(0.1)
    return None


def _stop() -> str:
    try:
        out = _control("quit", timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"warning: could not stop the MPS control daemon albench started ({exc}); stop it with " \
               f"`echo quit | {MPS_CONTROL}`"
    if out.returncode != 0:
        return f"warning: `echo quit | {MPS_CONTROL}` exited with {out.returncode}; the daemon albench started " \
               f"may still run"
    return "stopped the MPS control daemon albench started"


def wanted(mode: str, slots: list[int], gpu: bool) -> bool:
    """Whether ``mode`` asks for MPS for workers on ``slots`` (a device index per worker)."""
    if mode not in MODES:
        raise ValueError(f"mps mode must be one of {MODES}, got {mode!r}")
    if mode == "off" or not gpu:
        return False
    return mode == "on" or len(slots) > len(set(slots))


@contextmanager
def mps_for_workers(mode: str, slots: list[int], gpu: bool,
                    say: Callable[[str], None] = print) -> Iterator[MpsState]:
    """Around a local pool whose workers use the devices ``slots`` (one entry per worker; ``gpu``: they
    are GPU slots): attach to or start the MPS control daemon when ``mode`` wants it (module
    docstring), and stop a daemon started here on the way out. Everything done is ``say``-ed."""
    shared = gpu and len(slots) > len(set(slots))
    sharing = f"{len(slots)} workers on {len(set(slots))} GPU(s)"
    if not wanted(mode, slots, gpu):
        if mode == "off" and shared:
            say(f"MPS off (--mps off): {sharing} time-share them")
        elif mode == "on" and not gpu:
            say("--mps on, but the workers have no CUDA GPU: MPS not started")
        yield MpsState("none")
        return
    if shutil.which(MPS_CONTROL) is None:
        state = MpsState("unavailable", f"warning: MPS wanted ({sharing}) but {MPS_CONTROL} is not on PATH; "
                                        f"the workers time-share the GPU(s) without it")
        say(state.message)
        yield state
        return
    if daemon_running():
        state = MpsState("attached", f"MPS: attached to the running control daemon ({pipe_directory()}) for "
                                     f"{sharing}; it is left running")
        say(state.message)
        yield state
        return
    try:
        env, note = _daemon_env()
    except OSError as exc:
        env, note = dict(os.environ), f" (no log folder: {exc})"
    problem = _start(env)
    if problem is not None:
        state = MpsState("failed", f"warning: MPS could not be started ({problem}); the workers time-share the "
                                   f"GPU(s) without it")
        say(state.message)
        yield state
        return
    state = MpsState("started", f"MPS: started the control daemon ({pipe_directory()}) for {sharing}{note}; "
                                f"it is stopped when the run ends")
    say(state.message)
    try:
        yield state
    finally:
        say(_stop())
