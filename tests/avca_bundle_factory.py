"""Writes small datasets in the exact on-disk layout of the AVCA-GZSL benchmark's released features.

    info = write_avca_bundle(tmp_path / "UCF", "ucf", "selavi")
    dataset = DataSource("ucf", str(info.root), features="selavi", cache_dir=...).load()

Layout written under `root` (one dataset folder of the release's `avgzsl_benchmark_datasets/`):

    class-split/all_class.txt, <ds>_w2v_class_names.csv (original,manual[,category]),
        main_split/stage_*.txt, cls_split/stage_*.txt
    features/<main_features|cls_features>/{audio,video}/<stage>/<ClassName>.h5
        (h5 datasets `data`: one vector per video; `video_urls`: dtype S80 names)
    features/<main_features|cls_features>/text/word_embeddings_<ucf|activity|vggsound>_normed.npy
        (a dict: the CSV's `manual` name -> unit-norm 300-d vector)

selavi uses main_split/main_features (audio 512, video 512), c3d-vggish cls_split/cls_features
(audio 128, video 4096); `video_dim`/`audio_dim` override the widths to keep tests small.
Features are class-structured (a random class latent mapped into each modality and into the
word2vec space, plus noise), so methods can learn and transfer. With `code=True` every vector also
carries the readable code of `bundle_factory` (v[0] = class id + 1, v[1] = stage index, v[2] =
sample index; text v[0] = class id + 1) so tests can check alignment with `decode_class`.

With `classes="reference"` (default "auto": reference if present) the class-split folder is copied
at call time from `$AVGZSL_REFERENCE_DIR/AVCA-GZSL/<DS>/class-split` (default
`/work/shared/reference`), so the real spellings are exercised (UCF's split files write
HandStandPushups where all_class.txt has HandstandPushups). Nothing from it is stored in the project.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from bundle_factory import DISPLAY, REFERENCE_ROOT, STAGES, SYNTHETIC_POOLS, write_text_npy

FEATURE_SETS = {
    # features: (class split, feature folder, video dim, audio dim)
    "selavi": ("main_split", "main_features", 512, 512),
    "c3d-vggish": ("cls_split", "cls_features", 4096, 128),
}
TEXT_TAG = {"ucf": "ucf", "activitynet": "activity", "vggsound": "vggsound"}
LOWER_CASE = {"ucf": True, "activitynet": True, "vggsound": False}
WORD2VEC_DIM = 300
LATENT_DIM = 16
DEFAULT_CLASSES = {"train": 4, "val_unseen": 2, "test_unseen": 2}


def reference_class_split(dataset: str) -> Path | None:
    """The real AVCA-GZSL class-split folder of `dataset` if the reference copy is present."""
    path = REFERENCE_ROOT / "AVCA-GZSL" / DISPLAY[dataset] / "class-split"
    return path if (path / "all_class.txt").is_file() else None


@dataclass
class AvcaBundleInfo:
    root: Path
    dataset: str
    features: str
    class_names: list[str]  # id order: case-sensitive sorted all_class.txt
    stage_classes: dict[str, list[str]]  # <split>/<stage>.txt as spelled there
    counts: dict[str, dict[str, int]]  # stage folder -> {file stem: vectors}
    prompt_of: dict[int, str]  # class id -> word2vec key (the CSV's `manual` name)

    @property
    def class_split(self) -> Path:
        return self.root / "class-split" / FEATURE_SETS[self.features][0]

    @property
    def feature_root(self) -> Path:
        return self.root / "features" / FEATURE_SETS[self.features][1]

    def feature_path(self, modality: str, stage: str, stem: str) -> Path:
        return self.feature_root / modality / stage / f"{stem}.h5"

    @property
    def text_path(self) -> Path:
        return self.feature_root / "text" / f"word_embeddings_{TEXT_TAG[self.dataset]}_normed.npy"

    @property
    def name_csv(self) -> Path:
        return self.root / "class-split" / f"{self.dataset}_w2v_class_names.csv"


def write_h5(path: Path, data: np.ndarray, names: list[str]) -> None:
    """One per-class file as the release writes it: `data` and `video_urls` (S80)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        handle.create_dataset("data", data=data)
        handle.create_dataset("video_urls", dtype="S80", data=[name.encode() for name in names])


def _write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def _read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _synthetic_class_split(class_split: Path, dataset: str, wanted: Mapping[str, int]) -> None:
    total = sum(wanted.values())
    pool = list(SYNTHETIC_POOLS[dataset])[:total]
    for i in range(len(pool), total):
        pool.append((f"Synthclass{i:03d}", f"Synthclass{i:03d}", f"Synth class {i:03d}"))
    roles, start = {}, 0
    for role in ("train", "val_unseen", "test_unseen"):
        roles[role] = [stem for _, stem, _ in pool[start : start + wanted[role]]]
        start += wanted[role]
    _write_lines(class_split / "all_class.txt", sorted(original for original, _, _ in pool))
    lists = {
        "stage_1_train": roles["train"],
        "stage_1_val_seen": roles["train"],
        "stage_1_val_unseen": roles["val_unseen"],
        "stage_2_train": roles["train"] + roles["val_unseen"],
        "stage_2_test_seen": roles["train"] + roles["val_unseen"],
        "stage_2_test_unseen": roles["test_unseen"],
    }
    for folder in ("main_split", "cls_split"):
        for stage, names in lists.items():
            _write_lines(class_split / folder / f"{stage}.txt", sorted(names))
    path = class_split / f"{dataset}_w2v_class_names.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["original", "manual"])
        writer.writerows([original, prompt] for original, _, prompt in pool)


@dataclass
class ClassSplit:
    """A dataset's class-split folder as written, and what the feature writers read from it."""

    folder: Path
    stage_classes: dict[str, list[str]]  # <split>/<stage>.txt as spelled there
    class_names: list[str]  # id order: case-sensitive sorted all_class.txt
    lookup: dict[str, int]  # file stem (case-folded where the dataset folds) -> class id
    prompt_of: dict[int, str]  # class id -> word2vec key (the CSV's `manual` name)
    fold: Callable[[str], str]  # how file stems match all_class.txt (lower-cased for UCF, ActivityNet)

    def class_id(self, stem: str) -> int:
        return self.lookup[self.fold(stem)]


def write_class_split(
    root: Path, dataset: str, split_folder: str, classes: str, per_split: Mapping[str, int] | None
) -> ClassSplit:
    """Write `root`/class-split (the reference copy or a synthetic one, see the module docstring)
    and read back the stage lists, class ids and word2vec keys of `split_folder`."""
    class_split = root / "class-split"
    reference = reference_class_split(dataset)
    if classes == "reference" and reference is None:
        raise FileNotFoundError(f"no AVCA-GZSL reference class split for {dataset} under {REFERENCE_ROOT}")
    if classes == "reference" or (classes == "auto" and reference is not None):
        shutil.copytree(reference, class_split, dirs_exist_ok=True)
    else:
        _synthetic_class_split(class_split, dataset, {**DEFAULT_CLASSES, **(per_split or {})})
    lists = {stage: _read_lines(class_split / split_folder / f"{stage}.txt") for stage in STAGES}
    class_names = sorted(_read_lines(class_split / "all_class.txt"))
    fold = str.lower if LOWER_CASE[dataset] else str
    lookup = {fold(name): class_id for class_id, name in enumerate(class_names)}
    with (class_split / f"{dataset}_w2v_class_names.csv").open(newline="", encoding="utf-8") as handle:
        prompt_of = {lookup[fold(row["original"])]: row["manual"] for row in csv.DictReader(handle)}
    return ClassSplit(class_split, lists, class_names, lookup, prompt_of, fold)


def write_text_table(
    feature_root: Path,
    dataset: str,
    prompt_of: Mapping[int, str],
    latents: np.ndarray,
    text_map: np.ndarray,
    rng: np.random.Generator,
    code: bool = False,
) -> None:
    """The word2vec npy: each class latent mapped into the text space plus noise, unit-norm
    (with `code`, v[0] = class id + 1)."""
    table = {}
    for class_id, prompt in prompt_of.items():
        vector = latents[class_id] @ text_map + 0.1 * rng.standard_normal(WORD2VEC_DIM)
        vector = (vector / np.linalg.norm(vector)).astype(np.float32)
        if code:
            vector[0] = class_id + 1.0
        table[prompt] = vector
    write_text_npy(feature_root / "text" / f"word_embeddings_{TEXT_TAG[dataset]}_normed.npy", table)


def write_avca_bundle(
    root: Path,
    dataset: str,
    features: str = "selavi",
    *,
    classes: str = "auto",
    classes_per_split: Mapping[str, int] | None = None,
    samples_per_class: int = 3,
    video_dim: int | None = None,
    audio_dim: int | None = None,
    noise: float = 0.6,
    code: bool = False,
    seed: int = 0,
) -> AvcaBundleInfo:
    """Write one dataset folder for `dataset` ("ucf", "activitynet", "vggsound") and `features`."""
    split_folder, _, default_video, default_audio = FEATURE_SETS[features]
    video_dim, audio_dim = video_dim or default_video, audio_dim or default_audio
    rng = np.random.default_rng(seed)
    root = Path(root)
    split = write_class_split(root, dataset, split_folder, classes, classes_per_split)
    lists, class_names, prompt_of = split.stage_classes, split.class_names, split.prompt_of

    latents = rng.standard_normal((len(class_names), LATENT_DIM))
    maps = {
        dim_name: rng.standard_normal((LATENT_DIM, dim))
        for dim_name, dim in (("video", video_dim), ("audio", audio_dim))
    }
    text_map = rng.standard_normal((LATENT_DIM, WORD2VEC_DIM))
    feature_root = root / "features" / FEATURE_SETS[features][1]
    counts: dict[str, dict[str, int]] = {stage: {} for stage in STAGES}
    for stage_index, stage in enumerate(STAGES):
        for stem in lists[stage]:
            class_id = split.class_id(stem)
            names = [f"{stem}_{stage_index}_{j:03d}" for j in range(samples_per_class)]
            for modality, projection in maps.items():
                sample = latents[class_id] + noise * rng.standard_normal((samples_per_class, LATENT_DIM))
                data = (sample @ projection / np.sqrt(LATENT_DIM)).astype(np.float32)
                if code:
                    data[:, :3] = np.stack(
                        [
                            np.full(samples_per_class, class_id + 1.0),
                            np.full(samples_per_class, stage_index),
                            np.arange(samples_per_class),
                        ],
                        axis=1,
                    )
                write_h5(feature_root / modality / stage / f"{stem}.h5", data, names)
            counts[stage][stem] = samples_per_class

    write_text_table(feature_root, dataset, prompt_of, latents, text_map, rng, code)
    return AvcaBundleInfo(root, dataset, features, class_names, lists, counts, prompt_of)
