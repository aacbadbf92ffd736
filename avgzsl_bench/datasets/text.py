"""Attaching class-text embeddings to class ids: by name (default) or by the reference's position.

The text files are dicts keyed by the class string used in the prompts ("Apply Eye Makeup"); the
dataset's name CSV maps those strings to the class names of all_class.txt, whose sorted order
defines the class ids. The reference code instead gives class id i the vector of the i-th sorted
key, which hands 8 ActivityNet and 205 VGGSound classes another class's text (`legacy=True`
reproduces that, because the published numbers were produced with it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from avgzsl_bench.datasets.layout import BundleLayout
from avgzsl_bench.datasets.readers import read_name_csv, read_text_dict
from avgzsl_bench.datasets.spec import DatasetSpec
from avgzsl_bench.errors import BenchError


def legacy_misaligned(
    class_names: Sequence[str], keys: Iterable[str], key_to_class: Mapping[str, int]
) -> dict[int, str]:
    """Classes whose id receives another class's text under the reference's positional rule.

    `class_names`: names by id (sorted all_class.txt); `keys`: the npy dict keys; `key_to_class`: the correct
    class id of each key (via the name CSV). Returns {class id: key it wrongly receives}.
    """
    ordered = sorted(keys)
    wrong: dict[int, str] = {}
    for class_id in range(min(len(class_names), len(ordered))):
        key = ordered[class_id]
        if key_to_class.get(key) != class_id:
            wrong[class_id] = key
    return wrong


def key_to_class(
    keys: Iterable[str], name_map: Mapping[str, str], class_to_idx: Mapping[str, int], spec: DatasetSpec
) -> tuple[dict[str, int], list[str]]:
    """Correct class id per npy key: key -> name CSV -> original -> class id; unknown keys listed apart."""
    resolved: dict[str, int] = {}
    unknown: list[str] = []
    for key in keys:
        original = name_map.get(key)
        class_id = class_to_idx.get(spec.lookup_key(original)) if original is not None else None
        if class_id is None:  # tolerate bundles whose keys are the class names themselves
            class_id = class_to_idx.get(spec.lookup_key(key))
        if class_id is None:
            unknown.append(key)
        else:
            resolved[key] = class_id
    return resolved, unknown


def text_matrix(
    table: dict[str, np.ndarray], path: Path, what: str, num_classes: int, legacy: bool, key_to_class: Mapping[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(num_classes, dim) matrix and a bool mask of the rows that received a vector."""
    dim = next(iter(table.values())).shape[0]
    matrix = np.zeros((num_classes, dim), dtype=np.float32)
    filled = np.zeros(num_classes, dtype=bool)
    if legacy:
        for class_id, key in enumerate(sorted(table)[:num_classes]):
            matrix[class_id] = table[key]
            filled[class_id] = True
        return matrix, filled
    owner: dict[int, str] = {}
    for key, vector in table.items():
        if key not in key_to_class:
            continue
        class_id = key_to_class[key]
        if class_id in owner:
            raise BenchError(
                f"{what} text embeddings '{path}': keys '{owner[class_id]}' and '{key}' both name class id {class_id}; "
                "the file or the name table is inconsistent: re-export the file or fix the name table"
            )
        owner[class_id] = key
        matrix[class_id] = vector
        filled[class_id] = True
    return matrix, filled


def _name_map(layout: BundleLayout, legacy: bool) -> dict[str, str] | None:
    """Prompt string -> class name; None when legacy order is asked for and the table is absent."""
    if legacy and not layout.name_csv.is_file():
        return None
    return read_name_csv(layout.name_csv, layout.spec.prompt_column)


def _part_matrix(
    layout: BundleLayout,
    part: str,
    table: dict[str, np.ndarray],
    name_map: dict[str, str] | None,
    class_names: Sequence[str],
    class_to_idx: Mapping[str, int],
    used: set[int],
    legacy: bool,
    notes: list[str],
) -> np.ndarray:
    spec, path, what = layout.spec, layout.text(part), part.upper()
    keys_to_ids, unknown = key_to_class(table, name_map or {}, class_to_idx, spec)
    if unknown and not legacy:
        notes.append(
            f"{path.name}: {len(unknown)} key(s) match no class via {spec.name_csv} and were ignored: "
            f"{', '.join(sorted(unknown)[:10])}"
        )
    matrix, filled = text_matrix(table, path, what, len(class_names), legacy, keys_to_ids)
    lacking_used = [class_names[i] for i in sorted(used) if not filled[i]]
    if lacking_used and name_map is not None and not legacy:
        _check_name_rows(layout, lacking_used, name_map, unknown)
    if lacking_used:
        how = (
            "position (legacy_text_order: the file has fewer keys than all_class.txt has classes)"
            if legacy
            else f"name via '{layout.name_csv}' (column '{spec.prompt_column}')"
        )
        raise BenchError(
            f"{what} text embeddings '{path}' have no vector for class '{lacking_used[0]}'"
            + (f" (and {len(lacking_used) - 1} more used class(es))" if len(lacking_used) > 1 else "")
            + f", which a split uses; matched by {how}. Add the class to the file and the name table, "
            "or use the text files that came with the bundle"
        )
    unfilled = int((~filled).sum())
    if unfilled:
        notes.append(f"{path.name}: {unfilled} class(es) no split uses have no vector; their rows are zeros")
    return matrix


def _check_name_rows(
    layout: BundleLayout, lacking: Sequence[str], name_map: Mapping[str, str], unknown: Sequence[str]
) -> None:
    """A used class without text because the name table has no row for it: the table is at fault,
    not the text file, so name the table, the class and the text keys left without a class."""
    spec = layout.spec
    listed = {spec.lookup_key(original) for original in name_map.values()}
    absent = [name for name in lacking if spec.lookup_key(name) not in listed]
    if not absent:
        return
    orphans = f"; text keys that match no class: {', '.join(sorted(unknown)[:5])}" if unknown else ""
    raise BenchError(
        f"class '{absent[0]}'"
        + (f" (and {len(absent) - 1} more used class(es))" if len(absent) > 1 else "")
        + f" has no row in the name table '{layout.name_csv}' (column 'original'), so no text embedding can "
        f"be attached to it{orphans}. Add a row with the class in 'original' and its text key in "
        f"'{spec.prompt_column}', or restore the file from the released class-split/ folder"
    )


def _order_note(
    layout: BundleLayout,
    first_table: dict[str, np.ndarray],
    name_map: dict[str, str] | None,
    class_names: Sequence[str],
    class_to_idx: Mapping[str, int],
    used: set[int],
    legacy: bool,
) -> str:
    spec = layout.spec
    if legacy and name_map is None:
        return (
            f"text order: legacy (reference): class id i gets the vector of sorted(npy keys)[i]; "
            f"misalignment not checked ('{layout.name_csv.name}' missing)"
        )
    keys_to_ids, _ = key_to_class(first_table, name_map or {}, class_to_idx, spec)
    wrong = legacy_misaligned(class_names, first_table, keys_to_ids)
    if legacy:
        example = ", ".join(f"{class_names[i]}<-'{k}'" for i, k in list(wrong.items())[:6])
        return (
            f"text order: legacy (reference): class id i gets the vector of sorted(npy keys)[i]; "
            f"{len(wrong)} of {len(class_names)} classes get another class's text"
            + (f" ({len(set(wrong) & used)} used by a split; e.g. {example})" if wrong else "")
        )
    return (
        f"text order: by class name (npy key -> {spec.name_csv} '{spec.prompt_column}' -> class id); "
        f"the reference's positional order would give {len(wrong)} of {len(class_names)} classes another "
        "class's text (legacy_text_order=True reproduces it)"
    )


def attach_text(
    layout: BundleLayout,
    class_names: Sequence[str],
    class_to_idx: Mapping[str, int],
    used: set[int],
    legacy: bool,
    notes: list[str],
) -> dict[str, np.ndarray]:
    """One (num_classes, dim) matrix per text part of the dataset; notes describe what was done."""
    name_map = _name_map(layout, legacy)
    tables = {part: read_text_dict(layout.text(part), part.upper()) for part in layout.text_files}
    matrices = {
        part: _part_matrix(layout, part, table, name_map, class_names, class_to_idx, used, legacy, notes)
        for part, table in tables.items()
    }
    notes.append(_order_note(layout, next(iter(tables.values())), name_map, class_names, class_to_idx, used, legacy))
    return matrices
