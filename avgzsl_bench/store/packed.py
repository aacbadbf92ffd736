"""The one byte format of a run's per-sample predictions: an `.npz` archive.

The same bytes are the `predictions` row of the SQLite store and the `.npz` file beside an exported
run file, so a file can be read with nothing but `numpy.load(path, allow_pickle=False)`. Class ids
are stored as int16 when every id fits (int32 otherwise); names as fixed-width unicode arrays (no
pickles, so loading a foreign file runs no code). The archive is written with a fixed timestamp, so
the same predictions always give the same bytes (exports diff cleanly and hash stably).

Members: `format` (this layout's version), `key`, `labels`, `predicted`, `sample_names` (empty when
the bundle has none), `class_names`, `beta`, `beta_grid`, `val_hm`.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np

from avgzsl_bench.store.predictions import Predictions

FORMAT = 1  # bump when the members or their meaning change
_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: no wall clock in the bytes
_INT16_MAX = np.iinfo(np.int16).max


def _ids(values: np.ndarray) -> np.ndarray:
    """The smallest of int16/int32 that holds every class id."""
    values = np.asarray(values)
    small = values.size == 0 or (int(values.min()) >= 0 and int(values.max()) <= _INT16_MAX)
    return values.astype("<i2" if small else "<i4")


def _names(names: tuple[str, ...]) -> np.ndarray:
    return np.asarray(names, dtype=np.str_) if names else np.zeros(0, dtype="<U1")


def pack_predictions(predictions: Predictions) -> bytes:
    """The `.npz` bytes of `predictions` (deterministic: equal predictions, equal bytes)."""
    members = {
        "format": np.asarray(FORMAT, dtype="<i4"),
        "key": np.asarray(predictions.key, dtype=np.str_),
        "labels": _ids(predictions.labels),
        "predicted": _ids(predictions.predicted),
        "sample_names": _names(predictions.sample_names),
        "class_names": _names(predictions.class_names),
        "beta": np.asarray(predictions.beta, dtype="<f8"),
        "beta_grid": np.asarray(predictions.beta_grid, dtype="<f8"),
        "val_hm": np.asarray(predictions.val_hm, dtype="<f8"),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in members.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
    return buffer.getvalue()


def unpack_predictions(data: bytes) -> Predictions:
    """The predictions in `.npz` bytes; ValueError saying what is wrong when they are not such bytes."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            members = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"not a predictions archive ({error})") from None
    missing = {"format", "key", "labels", "predicted", "sample_names", "class_names", "beta", "beta_grid", "val_hm"}
    missing -= set(members)
    if missing:
        raise ValueError(f"not a predictions archive (missing {', '.join(sorted(missing))})")
    if int(members["format"]) != FORMAT:
        raise ValueError(f"predictions format {int(members['format'])} is not known (this version reads {FORMAT})")
    classes = len(members["class_names"])
    for name in ("labels", "predicted"):
        ids = members[name]
        if ids.dtype.kind not in "iu":
            raise ValueError(f"predictions member '{name}' holds {ids.dtype}, not class ids")
        if ids.size and not 0 <= int(ids.min()) <= int(ids.max()) < classes:
            raise ValueError(f"predictions member '{name}' holds class ids outside the {classes} classes")
    return Predictions(
        key=str(members["key"]),
        labels=members["labels"].astype(np.int64),
        predicted=members["predicted"].astype(np.int64),
        sample_names=tuple(str(name) for name in members["sample_names"]),
        class_names=tuple(str(name) for name in members["class_names"]),
        beta=float(members["beta"]),
        beta_grid=tuple(float(value) for value in members["beta_grid"]),
        val_hm=tuple(float(value) for value in members["val_hm"]),
    )


def same_predictions(a: Predictions, b: Predictions) -> bool:
    """Equal content (the dataclass's own == cannot compare arrays)."""
    return pack_predictions(a) == pack_predictions(b)
