"""Claims: a cell runs only in the process that holds its claim, an atomic lock file in the store.

``<root>/claims/<cell_id>`` is created atomically: a fully written temporary file is hard-linked to
that name, which fails if the name exists (the guarantee of ``O_CREAT | O_EXCL``, without a moment
where the claim is empty). It holds JSON ``{host, pid, pid_start, started, token}``; its
modification time is the heartbeat, which the holder refreshes (``Claim`` does it from a thread).

A claim expires when its holder is gone:

- on this host, when its pid no longer runs: no such process, a zombie, or a reused pid (the
  process start time differs from the one recorded);
- from another host, when its heartbeat is older than ``stale_after`` seconds (clocks of hosts
  that share the folder should agree to well within that).

An expired claim is taken over under an exclusive ``flock`` on ``claims/.lock`` (created at the first
takeover; re-read, still expired, removed, claimed anew), so two takers never both win. Nothing here knows about
executors: the local and inline executors claim from the process that runs the cell, and a cluster
executor would claim from its job the same way.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from benchmark.core.errors import AlbenchError

HEARTBEAT_EVERY_S = 10.0
STALE_AFTER_S = 120.0


class StoreWriteError(AlbenchError):
    """The result folder cannot be written (read-only, full disk, no permission)."""


def write_error(what: str, where: Path, exc: OSError) -> StoreWriteError:
    """One clear error for an OSError met while writing into the store."""
    name = errno.errorcode.get(exc.errno or 0, "?")
    hint = ("free some space" if exc.errno == errno.ENOSPC else
            "make it writable or point --results at a writable folder")
    return StoreWriteError(f"Cannot {what} in {where}: {exc.strerror or exc} ({name}). Nothing was changed "
                           f"in the store; {hint} and run again.")


def process_start(pid: int) -> int | None:
    """The start time of a process in clock ticks since boot (Linux), None where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def pid_alive(pid: int, start: int | None = None) -> bool:
    """Whether ``pid`` runs on this host (zombies count as dead; a differing start time means reused)."""
    if Path("/proc/self/stat").exists():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return False
        if fields[0] in ("Z", "X"):
            return False
        return start is None or int(fields[19]) == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Holder:
    """Who holds a claim, read from its file."""

    cell_id: str
    host: str
    pid: int
    pid_start: int | None
    started: float
    token: str
    heartbeat: float

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return (f"pid {self.pid} on {self.host} since {since} "
                f"(heartbeat {max(0.0, time.time() - self.heartbeat):.0f} s ago)")


class Claim:
    """A held claim. As a context manager it refreshes the heartbeat from a thread and releases on exit."""

    def __init__(self, board: ClaimBoard, cell_id: str, token: str):
        self.board, self.cell_id, self.token = board, cell_id, token
        self.path = board.dir / cell_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def heartbeat(self) -> bool:
        """Refresh the heartbeat; False if the claim is no longer ours."""
        holder = self.board.holder(self.cell_id)
        if holder is None or holder.token != self.token:
            return False
        try:
            os.utime(self.path)
        except OSError:
            return False
        return True

    def _beat(self) -> None:
        while not self._stop.wait(self.board.heartbeat_every):
            self.heartbeat()

    def release(self) -> None:
        """Remove the claim file if it is still ours (no lock: only a takeover could race with it, and a
        live holder's claim is never taken over)."""
        self._stop.set()
        holder = self.board.holder(self.cell_id)
        if holder is not None and holder.token == self.token:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Claim:
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{self.cell_id}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


class ClaimBoard:
    """The claims of one result folder: ``claim`` a cell, see who ``holder`` is, ``prune`` expired ones."""

    def __init__(self, root: str | Path, stale_after: float = STALE_AFTER_S,
                 heartbeat_every: float = HEARTBEAT_EVERY_S):
        self.dir = Path(root)
        self.stale_after = stale_after
        self.heartbeat_every = heartbeat_every
        self.host = socket.gethostname()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive lock on the whole board, for the short read-check-replace of a takeover; released
        by the kernel if its holder dies."""
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def holder(self, cell_id: str) -> Holder | None:
        """The claim's holder, None if the cell is not claimed. An unreadable claim file counts as held by
        nobody alive (pid 0), so it expires."""
        path = self.dir / cell_id
        try:
            beat = path.stat().st_mtime
            raw: dict[str, Any] = json.loads(path.read_text())
            return Holder(cell_id, str(raw["host"]), int(raw["pid"]), raw.get("pid_start"), float(raw["started"]),
                          str(raw["token"]), beat)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return Holder(cell_id, self.host, 0, None, 0.0, "", 0.0)

    def expired(self, holder: Holder) -> bool:
        if holder.host == self.host:
            return holder.pid <= 0 or not pid_alive(holder.pid, holder.pid_start)
        return time.time() - holder.heartbeat > self.stale_after

    def claim(self, cell_id: str) -> Claim | None:
        """Claim a cell for this process; None if a live process holds it. An expired claim is taken over."""
        token = uuid.uuid4().hex
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            if self._create(cell_id, token):
                return Claim(self, cell_id, token)
            with self.locked():
                holder = self.holder(cell_id)
                if holder is not None and not self.expired(holder):
                    return None
                (self.dir / cell_id).unlink(missing_ok=True)
                return Claim(self, cell_id, token) if self._create(cell_id, token) else None
        except OSError as exc:
            raise write_error(f"claim cell {cell_id}", self.dir, exc) from None

    def _create(self, cell_id: str, token: str) -> bool:
        """Atomically create the claim file with its content; False if it exists."""
        pid = os.getpid()
        body = {"host": self.host, "pid": pid, "pid_start": process_start(pid), "started": time.time(),
                "token": token}
        tmp = self.dir / f".new-{token}"
        try:
            tmp.write_text(json.dumps(body, sort_keys=True) + "\n")
            os.link(tmp, self.dir / cell_id)
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def holders(self) -> dict[str, Holder]:
        """Every claim on the board, expired or not."""
        if not self.dir.is_dir():
            return {}
        found = {p.name: self.holder(p.name) for p in self.dir.iterdir() if not p.name.startswith(".")}
        return {k: v for k, v in found.items() if v is not None}

    def live(self) -> dict[str, Holder]:
        """Claims whose holder still runs: the cells being run right now."""
        return {k: h for k, h in self.holders().items() if not self.expired(h)}

    def prune(self) -> list[str]:
        """Remove expired claims (their holders died); the cells they name can be claimed again."""
        if not any(self.expired(h) for h in self.holders().values()):
            return []  # the usual case, and it writes nothing
        removed = []
        with self.locked():
            for cell_id, holder in self.holders().items():
                if self.expired(holder):
                    (self.dir / cell_id).unlink(missing_ok=True)
                    removed.append(cell_id)
        return removed
