"""Leases on jobs in the results store, so processes sharing a store never train the same job twice.

A process claims a job before training it and renews the claim from a background thread while it
works. Another process that finds a live claim skips the job; a claim whose process died (its
lease ran out, or on the same host its process no longer exists) is taken over. This is what
lets several processes — a SLURM job array, or two terminals — share one store and one grid.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from types import TracebackType

from avgzsl_bench.store.sqlite import ResultStore

LEASE_ENV = "AVGZSL_LEASE_SECONDS"
DEFAULT_LEASE_S = 60.0
_TOKEN = uuid.uuid4().hex[:8]  # tells apart processes that reuse a pid on one host


def lease_seconds() -> float:
    """`$AVGZSL_LEASE_SECONDS` if set (tests use a short one), else 60 s."""
    value = os.environ.get(LEASE_ENV)
    return float(value) if value else DEFAULT_LEASE_S


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_TOKEN}"


def _dead_on_this_host(owner: str) -> bool:
    """The claiming process ran here and no longer exists (a crash or kill -9 before its lease ran out)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by another user
        return False
    return False


def live_claims(store: ResultStore) -> set[str]:
    """Keys claimed by a process that is still alive, as far as this host can tell."""
    now = time.time()
    return {key for key, (owner, expires) in store.claims().items() if expires > now and not _dead_on_this_host(owner)}


@dataclass(frozen=True)
class ClaimedElsewhere:
    """What `execute_job` returns for a job another live process is training."""

    key: str
    owner: str


class JobLease:
    """`with JobLease(store, key) as lease:` — holds the claim on `key` until the block ends."""

    def __init__(self, store: ResultStore, key: str, lease_s: float | None = None) -> None:
        self.store, self.key = store, key
        self.lease_s = lease_s if lease_s is not None else lease_seconds()
        self.owner = process_owner()
        self.held_by: str | None = None  # the other live owner, when the claim failed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> JobLease:
        try:
            other = self.store.claim(self.key, self.owner, self.lease_s)
            if other is not None and _dead_on_this_host(other):
                self.store.release(self.key, other)
                other = self.store.claim(self.key, self.owner, self.lease_s)
        except BaseException:
            # A signal can land after the claim was committed but before `with` could register the
            # exit; without this, Ctrl-C at that moment would leave the job claimed.
            self.store.release(self.key, self.owner)
            raise
        self.held_by = other
        if other is None:
            self._thread = threading.Thread(target=self._renew, name=f"lease {self.key}", daemon=True)
            self._thread.start()
        return self

    @property
    def held(self) -> bool:
        return self.held_by is None

    def _renew(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            self.store.renew([self.key], self.owner, self.lease_s)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._thread is not None:
            self._stop.set()
            try:
                self._thread.join()
            finally:  # a second signal during the join still releases the claim
                self.store.release(self.key, self.owner)
