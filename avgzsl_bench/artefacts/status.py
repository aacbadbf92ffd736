"""What is in the data home, and in what state: the rows of `bench.py datasets` and `fetch --list`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avgzsl_bench.artefacts.catalog import Artefact, get_artefact, list_artefacts, provider_of
from avgzsl_bench.artefacts.fetch import archive_path
from avgzsl_bench.artefacts.state import fingerprint, read_state, sha256_file
from avgzsl_bench.datasets.locations import data_home, default_root
from avgzsl_bench.datasets.spec import DATASETS
from avgzsl_bench.errors import BenchError

FOLDER_STATES = ("verified", "changed since fetch", "layout broken", "present, not fetched here", "missing")


@dataclass(frozen=True)
class FolderStatus:
    artefact: str
    target: str
    path: Path
    state: str  # one of FOLDER_STATES
    detail: str = ""


def folder_status(artefact: Artefact, home: Path, record: dict[str, Any] | None) -> list[FolderStatus]:
    rows = []
    for rule in artefact.folders:
        path = artefact.destination(home, rule)
        recorded = (record or {}).get("folders", {}).get(rule.target)
        if not path.is_dir():
            rows.append(FolderStatus(artefact.name, rule.target, path, "missing", f"bench.py fetch {artefact.name}"))
            continue
        try:
            rule.verify(path)
        except BenchError as error:
            rows.append(FolderStatus(artefact.name, rule.target, path, "layout broken", str(error)))
            continue
        if recorded is None:
            rows.append(FolderStatus(artefact.name, rule.target, path, "present, not fetched here"))
        elif fingerprint(path) != recorded:
            now = fingerprint(path)
            detail = f"{recorded['files']} files / {recorded['bytes']} B at fetch, {now['files']} / {now['bytes']} now"
            rows.append(FolderStatus(artefact.name, rule.target, path, "changed since fetch", detail))
        else:
            rows.append(FolderStatus(artefact.name, rule.target, path, "verified"))
    return rows


def archive_status(artefact: Artefact, home: Path, record: dict[str, Any] | None, rehash: bool) -> str:
    """'not fetched', 'sha256 recorded', 'archive removed', 'sha256 ok' or 'sha256 MISMATCH' (with `rehash`)."""
    if not record:
        return "not fetched"
    path = archive_path(home, artefact)
    if not path.is_file():
        return "sha256 recorded (archive removed)"
    if not rehash:
        return "sha256 recorded (archive kept; --verify re-hashes it)"
    return "sha256 ok" if sha256_file(path) == record.get("sha256") else "sha256 MISMATCH: archive modified"


def artefact_rows(rehash: bool = False) -> list[list[str]]:
    home, _ = data_home()
    state = read_state(home)
    rows = []
    for name in list_artefacts():
        artefact = get_artefact(name)
        record = state.get(name)
        folders = folder_status(artefact, home, record)
        ok = sum(status.state == "verified" for status in folders)
        rows.append(
            [
                name,
                artefact.filename,
                f"{ok}/{len(folders)} verified",
                archive_status(artefact, home, record, rehash),
                (record or {}).get("fetched", "")[:10],
                artefact.description,
            ]
        )
    return rows


def dataset_rows() -> list[list[str]]:
    """Every released dataset of the registry: where its data is looked for and what is there."""
    home, _ = data_home()
    state = read_state(home)
    checked: dict[str, list[FolderStatus]] = {}  # artefact -> its folders' states, checked once
    rows = []
    for key in DATASETS.names():
        spec = DATASETS.get(key)
        if spec.synthetic:
            continue
        provider = provider_of(key)
        path = default_root(spec)
        if provider is None:
            state_text = "present (no artefact provides it)" if path.is_dir() else "missing: pass --root"
            rows.append([spec.name, spec.features, str(path), state_text, ""])
            continue
        rule = next(rule for rule in provider.folders if key in rule.provides)
        if provider.name not in checked:
            checked[provider.name] = folder_status(provider, home, state.get(provider.name))
        status = next(s for s in checked[provider.name] if s.target == rule.target)
        hint = f"bench.py fetch {provider.name}" if status.state != "verified" else ""
        rows.append([spec.name, spec.features, str(path), status.state, status.detail or hint])
    return rows
