"""Readers of the released bundles' files: text lists, name tables, per-class feature files (ClipClap
pickles, AVCA-GZSL .h5), text npy dicts.

Each reader returns plain Python/numpy data and turns any malformed file into one `BenchError`
that names the file and the fix.
"""

from __future__ import annotations

import csv
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from avgzsl_bench.errors import BenchError


def read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise BenchError(f"cannot read '{path}' ({error}); restore it from the released bundle") from error
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_name_csv(path: Path, column: str) -> dict[str, str]:
    """prompt name (npy key) -> original class name."""
    if not path.is_file():
        raise BenchError(
            f"name table '{path}' is missing; it maps the text-embedding keys to class names. Restore it from the "
            "released class-split/ folder (or pass legacy_text_order=True to attach text by position)"
        )
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            fields = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise BenchError(f"cannot read name table '{path}' ({error}); restore it from the released bundle") from error
    for needed in ("original", column):
        if not fields or needed not in fields:
            raise BenchError(
                f"name table '{path}' has no column '{needed}' (columns: {fields or 'none'}); restore the file "
                "from the released class-split/ folder"
            )
    mapping: dict[str, str] = {}
    for row in rows:
        prompt, original = (row[column] or "").strip(), (row["original"] or "").strip()
        if not prompt or not original:
            continue
        if prompt in mapping and mapping[prompt] != original:
            raise BenchError(
                f"name table '{path}': prompt name '{prompt}' (column '{column}') maps to both "
                f"'{mapping[prompt]}' and '{original}'; each prompt name must name one class"
            )
        mapping[prompt] = original
    return mapping


def read_pickle(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # numpy-1.x pickles refer to numpy.core
            obj = pickle.load(handle)
    except Exception as error:
        raise BenchError(
            f"cannot read feature file '{path}' ({type(error).__name__}: {error}); the file is truncated or "
            "corrupt: re-download or re-extract it"
        ) from error
    if not isinstance(obj, dict):
        raise BenchError(
            f"feature file '{path}' holds a {type(obj).__name__}, expected a dict with keys 'features', "
            "'video_names', 'fps'; re-extract it with the release's feature-extraction scripts"
        )
    missing = [key for key in ("features", "video_names") if key not in obj]
    if missing:
        raise BenchError(
            f"feature file '{path}' lacks key(s) {missing} (has {sorted(map(str, obj))}); each per-class pickle "
            "needs 'features' (list of vectors) and 'video_names'; re-extract it"
        )
    return obj


def read_text_dict(path: Path, what: str) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise BenchError(
            f"{what} text embeddings '{path}' are missing; unpack the bundle's features/<feature folder>/text/ folder"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            loaded = np.load(path, allow_pickle=True)
    except Exception as error:
        raise BenchError(
            f"cannot read {what} text embeddings '{path}' ({type(error).__name__}: {error}); re-download the file"
        ) from error
    obj = loaded.item() if isinstance(loaded, np.ndarray) and loaded.shape == () and loaded.dtype == object else loaded
    if not isinstance(obj, dict):
        raise BenchError(
            f"{what} text embeddings '{path}' hold {type(obj).__name__} "
            f"{getattr(obj, 'shape', '')}, expected a 0-d object array wrapping a dict "
            "{class prompt name: vector} (np.save(path, np.array(d, dtype=object))); re-export the file"
        )
    out: dict[str, np.ndarray] = {}
    dim = None
    for key, value in obj.items():
        try:
            vector = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError) as error:
            raise BenchError(f"{what} text embeddings '{path}': value of key '{key}' is not numeric") from error
        if vector.ndim == 2 and vector.shape[0] == 1:
            vector = vector[0]
        if vector.ndim != 1 or vector.size == 0:
            raise BenchError(
                f"{what} text embeddings '{path}': key '{key}' has shape {vector.shape}, expected one vector"
            )
        if dim is None:
            dim = vector.shape[0]
        elif vector.shape[0] != dim:
            raise BenchError(
                f"{what} text embeddings '{path}': key '{key}' is {vector.shape[0]}-d but others are {dim}-d; "
                "all class vectors of one file must have the same length; re-export the file"
            )
        if not np.isfinite(vector).all():
            raise BenchError(f"{what} text embeddings '{path}': key '{key}' contains NaN/inf; re-export the file")
        out[str(key)] = vector
    if not out:
        raise BenchError(f"{what} text embeddings '{path}' hold an empty dict; re-export the file")
    return out


def decode_names(raw: Any, path: Path) -> np.ndarray:
    try:
        names = np.asarray(raw)
        if names.ndim != 1:
            names = names.reshape(-1)
        if names.dtype.kind == "S":
            return np.char.decode(names, "utf-8", errors="replace")
        if names.dtype.kind == "U":
            return names
        return np.asarray([n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names], dtype=str)
    except Exception as error:
        raise BenchError(
            f"feature file '{path}': 'video_names' is not a list of names ({error}); re-extract it"
        ) from error


def stack_features(raw: Any, path: Path) -> np.ndarray | None:
    """(n, dim) array of the file's vectors; None when the file holds no vectors."""
    if isinstance(raw, np.ndarray) and raw.dtype != object:
        array = raw
    else:
        if not isinstance(raw, (list, tuple, np.ndarray)):
            raise BenchError(
                f"feature file '{path}': 'features' is a {type(raw).__name__}, expected a list of 1-D vectors; "
                "re-extract it"
            )
        items = list(raw)
        if not items:
            return None
        try:
            array = np.stack([np.asarray(item) for item in items])
        except ValueError:
            shapes = [np.shape(item) for item in items]
            odd = next(i for i, shape in enumerate(shapes) if shape != shapes[0])
            raise BenchError(
                f"feature file '{path}': ragged 'features': vector {odd} has shape {shapes[odd]} but vector 0 has "
                f"{shapes[0]}; every vector of a bundle must have the same length: re-extract this file"
            ) from None
    if array.ndim == 3 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 2 or array.shape[1] == 0:
        raise BenchError(
            f"feature file '{path}': 'features' has shape {array.shape}, expected a list of 1-D vectors; re-extract it"
        )
    if array.dtype.kind not in "fiu":
        raise BenchError(f"feature file '{path}': 'features' has dtype {array.dtype}, expected floats; re-extract it")
    if array.dtype.kind != "f":
        array = array.astype(np.float32)
    return array


ClassFile = tuple["np.ndarray | None", np.ndarray]  # (vectors, or None when there are none; video names)


def read_pickle_class(path: Path) -> ClassFile:
    """One ClipClap per-class pickle: its vectors and video names."""
    raw = read_pickle(path)
    return stack_features(raw["features"], path), decode_names(raw["video_names"], path)


def read_h5_class(path: Path) -> ClassFile:
    """One AVCA-GZSL per-class .h5 file: datasets `data` (one vector per video) and `video_urls`."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            missing = [key for key in ("data", "video_urls") if key not in handle]
            if missing:
                raise BenchError(
                    f"feature file '{path}' lacks dataset(s) {missing} (has {sorted(handle)}); each per-class "
                    ".h5 file needs 'data' (one vector per video) and 'video_urls'; re-download or re-extract it"
                )
            data, urls = handle["data"][()], handle["video_urls"][()]
    except BenchError:
        raise
    except Exception as error:
        raise BenchError(
            f"cannot read feature file '{path}' ({type(error).__name__}: {error}); the file is truncated or "
            "corrupt: re-download or re-extract it"
        ) from error
    names = decode_names(urls, path)
    if np.asarray(data).size == 0:
        return None, names
    return stack_features(np.asarray(data), path), names


# Per-class feature file readers by file-name ending (a dataset spec's `feature_suffix`), and what
# each format calls its list of video names (for messages).
CLASS_FILE_READERS: dict[str, Callable[[Path], ClassFile]] = {".pkl": read_pickle_class, ".h5": read_h5_class}
NAMES_FIELD = {".pkl": "video_names", ".h5": "video_urls"}
