"""Which data version a report's rows were computed from, so rows of different data never share a
heading unannounced.

A data version is a run's data fingerprint (`datasets.fingerprint`), named in reports by its first
hex digits. A board or table block whose runs all share one fingerprint renders as it always did;
one whose runs come from two or more gets a `data` column and a note naming the versions. Runs
stored before fingerprints were recorded carry "", which is shown as `unrecorded` and never counts
as a version of its own (it cannot be told apart from any of them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from avgzsl_bench.datasets.fingerprint import short_fingerprint
from avgzsl_bench.store.records import RunRecord

COLUMN = "data"
UNRECORDED = "unrecorded"


COLUMN_MEANING = "the first digits of the sha256 over the feature, split and class-text files and the text rule"
UNRECORDED_MEANING = f"`{UNRECORDED}`: stored before data fingerprints were recorded."


def known_versions(fingerprints: Iterable[str]) -> list[str]:
    """The distinct recorded fingerprints, sorted."""
    return sorted({fingerprint for fingerprint in fingerprints if fingerprint})


def run_versions(groups: Sequence[Iterable[RunRecord]]) -> list[str]:
    """The distinct recorded fingerprints of all these rows' runs, sorted."""
    return known_versions(run.data_fingerprint for group in groups for run in group)


def mixes_versions(groups: Sequence[Iterable[RunRecord]]) -> bool:
    """Whether the runs of these rows were computed from more than one recorded data version."""
    return len(run_versions(groups)) > 1


def version_cell(runs: Iterable[RunRecord]) -> str:
    """A row's data version(s) by short fingerprint; `unrecorded` when none of its runs has one."""
    versions = known_versions(run.data_fingerprint for run in runs)
    return ", ".join(short_fingerprint(version) for version in versions) or UNRECORDED


def version_note(groups: Sequence[Iterable[RunRecord]]) -> str:
    """The note under a heading whose rows mix data versions."""
    versions = run_versions(groups)
    named = ", ".join(f"`{short_fingerprint(version)}`" for version in versions)
    return (
        f"**These rows were computed from {len(versions)} different data versions ({named}; column `{COLUMN}`, "
        f"{COLUMN_MEANING}): compare rows only within one data version.** {UNRECORDED_MEANING}"
    )


def version_legend() -> str:
    """What the `data` column means, for a page that shows it even when its rows share one version."""
    return f"`{COLUMN}`: the data version of a row's runs, {COLUMN_MEANING}. {UNRECORDED_MEANING}"
