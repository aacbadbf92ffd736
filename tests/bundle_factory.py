"""Writes small feature bundles in the exact on-disk format of the released ClipClap data.

    info = write_bundle(tmp_path / "UCF", "ucf")            # real class lists when the reference copy exists
    dataset = load_bundle(info.root, "ucf", cache_dir=tmp_path / "cache")

Layout written under `root` (the dataset folder):

    class-split/all_class.txt, <name CSV(s)>, cls_split/stage_*.{txt,csv}, main_split/stage_*.{txt,csv}
    features/cls_features_non_averaged/{audio,video}/<stage>/<ClassName>.pkl   (features / video_names / fps)
    features/cls_features_non_averaged/text/{word_embeddings,wavcaps_word_embeddings}_<ds>_normed.npy

Pickles use protocol 3 with numpy-1.x module paths (`numpy.core.multiarray`), like files written by the
authors' numpy 1.20 environment. Feature vectors carry a readable code so tests can check alignment:
`v[0] = class id + 1`, `v[1] = stage index` (position in `STAGES`), `v[2] = sample index within its file`,
identical in the audio and video vector of one video. Text vectors carry `v[0] = class id + 1` of the
class whose prompt name is the dict key. `decode_class(vec)` reads the class id back.

With `classes="reference"` (default "auto": reference if present) the class-split folder is copied from
`<REFERENCE_ROOT>/<DS>/class-split` (see `_reference_root`) at call time, so the real
spellings are exercised (UCF HandStandPushups vs HandstandPushups, VGGSound commas/parentheses,
ActivityNet case). Nothing from the reference is stored in the project.
"""

from __future__ import annotations

import csv
import io
import os
import pickle
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def _reference_root() -> Path:
    """`$AVGZSL_REFERENCE_DIR`, else the shared reference data beside the checkout, else the team
    machines' fixed location; the first that exists (tests that need it skip when none does)."""
    candidates = [Path(__file__).resolve().parents[2] / "shared" / "reference", Path("/work/shared/reference")]
    configured = os.environ.get("AVGZSL_REFERENCE_DIR")
    if configured:
        return Path(configured)
    return next((path for path in candidates if path.is_dir()), candidates[0])


REFERENCE_ROOT = _reference_root()
DISPLAY = {"ucf": "UCF", "activitynet": "ActivityNet", "vggsound": "VGGSound"}
NAME_CSV = {
    "ucf": ("ucf_clip_class_names.csv", "clip_class_name"),
    "activitynet": ("activitynet_w2v_class_names.csv", "manual"),
    "vggsound": ("vggsound_w2v_class_names.csv", "manual"),
}
LOWER_CASE = {"ucf": True, "activitynet": True, "vggsound": False}
STAGES = (
    "stage_1_train",
    "stage_1_val_seen",
    "stage_1_val_unseen",
    "stage_2_train",
    "stage_2_test_seen",
    "stage_2_test_unseen",
)
LOADED_STAGES = ("stage_1_train", "stage_1_val_seen", "stage_1_val_unseen", "stage_2_test_seen", "stage_2_test_unseen")
SPLIT_FOLDERS = {
    "train": ("stage_1_train",),
    "val": ("stage_1_val_seen", "stage_1_val_unseen"),
    "train_val": ("stage_1_train", "stage_1_val_seen", "stage_1_val_unseen"),
    "test": ("stage_2_test_seen", "stage_2_test_unseen"),
}
CSV_COLUMNS = {
    "ucf": ["filename", "label", "label_code"],
    "activitynet": ["filename", "label_code", "label"],
    "vggsound": ["youtube_id", "start_seconds", "label", "split", "filename", "label_code", "category"],
}
DEFAULT_CLASSES_PER_SPLIT = {"train": 4, "val_unseen": 2, "test_unseen": 2, "extra": 1, "unused": 2}

# Synthetic class pools that mimic the real quirks: (all_class spelling, split/file-stem spelling, prompt name).
SYNTHETIC_POOLS: dict[str, list[tuple[str, str, str]]] = {
    "ucf": [
        ("HandstandPushups", "HandStandPushups", "Hand Stand Pushups"),  # split files spell it differently
        ("YoYo", "YoYo", "Yo Yo"),
        ("Yoga", "Yoga", "Yoga"),  # case-sensitive order != case-insensitive
        ("ApplyEyeMakeup", "ApplyEyeMakeup", "Apply Eye Makeup"),
        ("Archery", "Archery", "Archery"),
        ("BabyCrawling", "BabyCrawling", "Baby Crawling"),
        ("CleanAndJerk", "CleanAndJerk", "Clean And Jerk"),
        ("BlowDryHair", "BlowDryHair", "Blow Dry Hair"),
        ("Haircut", "Haircut", "Haircut"),
        ("BandMarching", "BandMarching", "Band Marching"),
        ("WritingOnBoard", "WritingOnBoard", "Writing On Board"),
        ("Skijet", "Skijet", "Skijet"),
    ],
    "activitynet": [
        ("Longjump", "Longjump", "Long jump"),
        ("Longboarding", "Longboarding", "Longboarding"),
        ("BMX", "BMX", "BMX"),
        ("Beachsoccer", "Beachsoccer", "Beach soccer"),
        ("Rockclimbing", "Rockclimbing", "Rock climbing"),
        ("Rock-paper-scissors", "Rock-paper-scissors", "Rock-paper-scissors"),
        ("Applyingsunscreen", "Applyingsunscreen", "Applying sunscreen"),
        ("Archery", "Archery", "Archery"),
        ("Snowtubing", "Snowtubing", "Snow tubing"),
        ("Snowboarding", "Snowboarding", "Snowboarding"),
        ("Zumba", "Zumba", "Zumba"),
        ("Cleaningsink", "Cleaningsink", "Cleaning sink"),
    ],
    "vggsound": [
        ("bird chirping, tweeting", "bird chirping, tweeting", "bird chirping"),
        ("police car (siren)", "police car (siren)", "police car (siren)"),
        ("race car, auto racing", "race car, auto racing", "auto racing"),
        ("alligators, crocodiles hissing", "alligators, crocodiles hissing", "crocodiles hissing"),
        ("ambulance siren", "ambulance siren", "ambulance siren"),
        ("playing bass guitar", "playing bass guitar", "playing bass guitar"),
        ("playing bass drum", "playing bass drum", "playing bass drum"),
        ("female speech, woman speaking", "female speech, woman speaking", "woman speaking"),
        ("wind rustling leaves", "wind rustling leaves", "wind rustling leaves"),
        ("dog barking", "dog barking", "dog barking"),
        ("helicopter", "helicopter", "helicopter"),
        ("air horn", "air horn", "air horn"),
    ],
}


def reference_class_split(dataset: str) -> Path | None:
    """The real class-split folder of `dataset` if the reference copy is present, else None."""
    path = REFERENCE_ROOT / DISPLAY[dataset.lower()] / "class-split"
    return path if (path / "all_class.txt").is_file() else None


def decode_class(vector) -> int:
    """Class id encoded in a generated feature or text vector (-1 for a zero row)."""
    return int(round(float(vector[0]))) - 1


# ---------------------------------------------------------------------------------------------------------------------
# Format writers (reusable by other tests to build broken files)


def _numpy1_paths(data: bytes) -> bytes:
    """Protocol-3 pickles name globals in text lines: rewrite numpy 2's private module to numpy 1's path."""
    return data.replace(b"cnumpy._core.", b"cnumpy.core.")


def write_feature_pickle(
    path: Path, features, names, fps=None, *, extra: Mapping | None = None, drop_keys: tuple[str, ...] = ()
) -> None:
    """One per-class file: {'features': [1-D arrays], 'video_names': [numpy.bytes_], 'fps': [25, ...]}."""
    record = {
        "features": list(features),
        "video_names": [np.bytes_(n.encode() if isinstance(n, str) else n) for n in names],
        "fps": list(fps) if fps is not None else [25] * len(features),
    }
    record.update(extra or {})
    for key in drop_keys:
        record.pop(key, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_numpy1_paths(pickle.dumps(record, protocol=3)))


def read_feature_pickle(path: Path) -> dict:
    with path.open("rb") as handle:
        return pickle.load(handle)


def write_text_npy(path: Path, table: Mapping[str, np.ndarray]) -> None:
    """A 0-d object array holding the dict, as np.save(path, dict) writes it (pickle protocol 3, numpy-1 paths)."""
    array = np.empty((), dtype=object)
    array[()] = dict(table)
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, np.lib.format.header_data_from_array_1_0(array))
    buffer.write(_numpy1_paths(pickle.dumps(array, protocol=3)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def _write_lines(path: Path, lines, trailing_newline: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines)
    path.write_text(text + ("\n" if trailing_newline and lines else ""), encoding="utf-8")


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------------------------------------------------------------
# Bundle


@dataclass
class BundleInfo:
    root: Path
    dataset: str
    real_classes: bool
    class_names: list[str]  # id order: case-sensitive sorted all_class.txt
    stage_classes: dict[str, list[str]]  # cls_split/<stage>.txt as spelled there
    counts: dict[str, dict[str, int]]  # stage folder -> {file stem: number of vectors}
    extra_classes: list[str]  # out-of-split classes written into stage_2_test_unseen (stems)
    prompt_of: dict[int, str]  # class id -> npy key (prompt name)
    skipped: dict[str, int] = field(default_factory=dict)  # stem -> extra trailing names per file

    @property
    def features(self) -> Path:
        return self.root / "features" / "cls_features_non_averaged"

    @property
    def class_split(self) -> Path:
        return self.root / "class-split"

    def feature_path(self, modality: str, stage: str, stem: str) -> Path:
        return self.features / modality / stage / f"{stem}.pkl"

    @property
    def clip_text_path(self) -> Path:
        return self.features / "text" / f"word_embeddings_{self.dataset}_normed.npy"

    @property
    def clap_text_path(self) -> Path:
        return self.features / "text" / f"wavcaps_word_embeddings_{self.dataset}_normed.npy"

    def class_id(self, name: str) -> int:
        key = name.lower() if LOWER_CASE[self.dataset] else name
        for class_id, candidate in enumerate(self.class_names):
            if (candidate.lower() if LOWER_CASE[self.dataset] else candidate) == key:
                return class_id
        raise KeyError(name)

    def split_class_ids(self, split: str) -> tuple[set[int], set[int]]:
        """(seen, unseen) class ids of a protocol split, from the .txt lists."""
        ids = {stage: {self.class_id(n) for n in self.stage_classes[stage]} for stage in self.stage_classes}
        return {
            "train": (ids["stage_1_train"], set()),
            "val": (ids["stage_1_val_seen"], ids["stage_1_val_unseen"]),
            "train_val": (ids["stage_1_train"] | ids["stage_1_val_unseen"], set()),
            "test": (ids["stage_2_test_seen"], ids["stage_2_test_unseen"]),
        }[split]

    def expected_count(self, split: str) -> int:
        """Samples the loader must keep: every file of the split's folders except out-of-split extras."""
        return sum(
            n
            for stage in SPLIT_FOLDERS[split]
            for stem, n in self.counts[stage].items()
            if stem not in self.extra_classes
        )


def _synthetic_classes(dataset: str, classes_per_split: Mapping[str, int], rng: np.random.Generator):
    wanted = {**DEFAULT_CLASSES_PER_SPLIT, **classes_per_split}
    total = sum(wanted.values())
    pool = list(SYNTHETIC_POOLS[dataset])
    for i in range(len(pool), total):
        if dataset == "ucf":
            pool.append((f"SynthClass{i:03d}", f"SynthClass{i:03d}", f"Synth Class {i:03d}"))
        elif dataset == "activitynet":
            pool.append((f"Synthactivity{i:03d}", f"Synthactivity{i:03d}", f"Synth activity {i:03d}"))
        else:
            pool.append((f"synthetic sound, {i:03d}", f"synthetic sound, {i:03d}", f"synthetic sound {i:03d}"))
    pool = pool[:total]
    roles: dict[str, list[tuple[str, str, str]]] = {}
    start = 0
    for role in ("train", "val_unseen", "test_unseen", "extra", "unused"):
        roles[role] = pool[start : start + wanted[role]]
        start += wanted[role]
    return pool, roles


def _write_synthetic_class_split(
    class_split: Path, dataset: str, classes_per_split: Mapping[str, int], rng: np.random.Generator
) -> list[str]:
    pool, roles = _synthetic_classes(dataset, classes_per_split, rng)
    all_class = [original for original, _, _ in pool]
    _write_lines(class_split / "all_class.txt", [all_class[i] for i in rng.permutation(len(all_class))])
    split_names = {role: [stem for _, stem, _ in members] for role, members in roles.items()}
    lists = {
        "stage_1_train": split_names["train"],
        "stage_1_val_seen": split_names["train"],
        "stage_1_val_unseen": split_names["val_unseen"],
        "stage_2_train": split_names["train"] + split_names["val_unseen"],
        "stage_2_test_seen": split_names["train"] + split_names["val_unseen"],
        "stage_2_test_unseen": split_names["test_unseen"],
    }
    for folder in ("cls_split", "main_split"):
        for stage, names in lists.items():
            if folder == "main_split" and stage == "stage_2_test_unseen":
                names = names + split_names["extra"]
            _write_lines(class_split / folder / f"{stage}.txt", sorted(names))
    csv_name, column = NAME_CSV[dataset]
    if dataset == "ucf":
        _write_csv(class_split / csv_name, ["original", "manual", "clip_class_name"], [[o, p, p] for o, _, p in pool])
        _write_csv(class_split / "ucf_w2v_class_names.csv", ["original", "manual"], [[o, p] for o, _, p in pool])
    elif dataset == "activitynet":
        _write_csv(class_split / csv_name, ["original", "manual"], [[o, p] for o, _, p in pool])
    else:
        _write_csv(class_split / csv_name, ["original", "manual", "category"], [[o, p, "others"] for o, _, p in pool])
    return split_names["extra"]


def _sample_name(dataset: str, stem: str, stage_index: int, class_id: int, j: int) -> str:
    if dataset == "ucf":
        return f"v_{stem}_g{stage_index * 10 + j // 7 + 1:02d}_c{j % 7 + 1:02d}"
    if dataset == "activitynet":
        return f"an{stage_index}{class_id:03d}x{j:05d}_0"
    return f"vg{stage_index}{class_id:03d}x{j:04d}_{(j * 10) % 1000:06d}"


def write_bundle(
    root: Path,
    dataset: str,
    classes_per_split: Mapping[str, int] | None = None,
    samples_per_class: int | str = 3,
    seed: int = 0,
    video_dtype=np.float16,
    audio_dtype=np.float32,
    *,
    classes: str = "auto",
    video_dim: int = 512,
    audio_dim: int = 1024,
    clip_dim: int = 512,
    clap_dim: int = 1024,
    fallback_samples: int = 20,
    skipped: Mapping[str, int] | None = None,
    write_csvs: bool = True,
) -> BundleInfo:
    """Write a bundle for `dataset` ("ucf", "activitynet", "vggsound") under `root` (the dataset folder).

    classes: "reference" (copy the real class-split folder; error if absent), "synthetic" (a small list with the
    same naming quirks, sized by `classes_per_split` = {"train", "val_unseen", "test_unseen", "extra", "unused"}),
    or "auto". samples_per_class: vectors per class file, or "csv" to use the real per-class counts and video names
    of the reference CSVs (`fallback_samples` where a CSV is absent, e.g. VGGSound stage_1_train). skipped:
    {file stem: k} appends k names without vectors to that class's files (videos skipped at extraction).
    """
    dataset = dataset.lower()
    if min(video_dim, audio_dim, clip_dim, clap_dim) < 3:
        raise ValueError("dims must be >= 3 (the first three entries carry the test code)")
    rng = np.random.default_rng(seed)
    root = Path(root)
    class_split = root / "class-split"
    reference = reference_class_split(dataset)
    if classes == "reference" and reference is None:
        raise FileNotFoundError(f"no reference class-split for {dataset} under {REFERENCE_ROOT}")
    use_reference = classes == "reference" or (classes == "auto" and reference is not None)
    if classes not in ("auto", "reference", "synthetic"):
        raise ValueError(f"classes must be auto, reference or synthetic, not {classes!r}")

    extra: list[str]
    stage_csv: dict[str, list[dict[str, str]]] = {}
    if use_reference:
        shutil.copytree(reference, class_split, dirs_exist_ok=True)
        lists = {stage: _read_lines(class_split / "cls_split" / f"{stage}.txt") for stage in STAGES}
        for stage in STAGES:
            csv_path = class_split / "cls_split" / f"{stage}.csv"
            if csv_path.is_file():
                stage_csv[stage] = _read_csv(csv_path)
        fold = (lambda n: n.lower()) if LOWER_CASE[dataset] else (lambda n: n)
        listed = {fold(n) for n in lists["stage_2_test_unseen"]}
        test_unseen_labels = {row["label"] for row in stage_csv.get("stage_2_test_unseen", [])}
        extra = sorted(label for label in test_unseen_labels if fold(label) not in listed)
        main = class_split / "main_split"
        if not main.is_dir():  # the reference copy lacks it: cls_split with the main-split test-unseen classes
            for stage in STAGES:
                names = lists[stage] + (extra if stage == "stage_2_test_unseen" else [])
                _write_lines(main / f"{stage}.txt", sorted(names))
    else:
        extra = _write_synthetic_class_split(class_split, dataset, classes_per_split or {}, rng)
        lists = {stage: _read_lines(class_split / "cls_split" / f"{stage}.txt") for stage in STAGES}

    all_class = _read_lines(class_split / "all_class.txt")
    class_names = sorted(all_class)
    lookup = {(n.lower() if LOWER_CASE[dataset] else n): i for i, n in enumerate(class_names)}

    def cid(name: str) -> int:
        return lookup[name.lower() if LOWER_CASE[dataset] else name]

    csv_name, column = NAME_CSV[dataset]
    name_rows = _read_csv(class_split / csv_name)
    prompt_of = {cid(row["original"]): row[column] for row in name_rows}

    # Which stems each stage folder holds (stage_2_test_unseen also holds the main-split extras, as released).
    folder_stems = {stage: list(lists[stage]) for stage in STAGES}
    folder_stems["stage_2_test_unseen"] = folder_stems["stage_2_test_unseen"] + list(extra)
    skipped = dict(skipped or {})

    counts: dict[str, dict[str, int]] = {stage: {} for stage in STAGES}
    written: dict[tuple[str, str], tuple[list, list, list]] = {}
    features = root / "features" / "cls_features_non_averaged"
    for stage in STAGES:
        if stage == "stage_2_train":
            continue  # written below from the stage-1 folders, as the splitting script did
        stage_index = STAGES.index(stage)
        rows_by_label: dict[str, list[dict[str, str]]] = {}
        for row in stage_csv.get(stage, []):
            rows_by_label.setdefault(row["label"], []).append(row)
        for stem in folder_stems[stage]:
            class_id = cid(stem)
            if samples_per_class == "csv":
                rows = rows_by_label.get(stem, [])
                n = len(rows) if stage in stage_csv else fallback_samples
                names = [row["filename"] for row in rows] if stage in stage_csv else None
            else:
                n, names = int(samples_per_class), None
            if names is None:
                names = [_sample_name(dataset, stem, stage_index, class_id, j) for j in range(n)]
            code = np.stack([np.full(n, class_id + 1.0), np.full(n, float(stage_index)), np.arange(n, dtype=float)], 1)
            video = rng.standard_normal((n, video_dim)) / np.sqrt(video_dim)
            audio = rng.standard_normal((n, audio_dim)) / np.sqrt(audio_dim)
            video[:, :3] = code
            audio[:, :3] = code
            video_list = [row for row in video.astype(video_dtype)]
            audio_list = [row for row in audio.astype(audio_dtype)]
            all_names = list(names) + [f"skipped_{stem}_{k}" for k in range(skipped.get(stem, 0))]
            write_feature_pickle(features / "video" / stage / f"{stem}.pkl", video_list, all_names)
            write_feature_pickle(features / "audio" / stage / f"{stem}.pkl", audio_list, all_names)
            counts[stage][stem] = n
            written[(stage, stem)] = (video_list, audio_list, list(names))
    for stem in folder_stems["stage_2_train"]:
        video_list, audio_list, names = [], [], []
        for stage in ("stage_1_train", "stage_1_val_seen", "stage_1_val_unseen"):
            if (stage, stem) in written:
                v, a, n = written[(stage, stem)]
                video_list += v
                audio_list += a
                names += n
        write_feature_pickle(features / "video" / "stage_2_train" / f"{stem}.pkl", video_list, names)
        write_feature_pickle(features / "audio" / "stage_2_train" / f"{stem}.pkl", audio_list, names)
        counts["stage_2_train"][stem] = len(names)

    # Per-video CSVs of a synthetic class split (the reference copy brings its own).
    if write_csvs and not use_reference:
        for folder in ("cls_split", "main_split"):
            for stage in STAGES:
                rows = []
                for stem in folder_stems[stage]:
                    for j in range(counts[stage].get(stem, 0)):
                        filename = _sample_name(dataset, stem, STAGES.index(stage), cid(stem), j)
                        record = {
                            "filename": filename,
                            "label": stem,
                            "label_code": cid(stem),
                            "youtube_id": filename.rsplit("_", 1)[0],
                            "start_seconds": j * 10,
                            "split": "test" if "test" in stage else "train",
                            "category": "others",
                        }
                        rows.append([record[c] for c in CSV_COLUMNS[dataset]])
                _write_csv(class_split / folder / f"{stage}.csv", CSV_COLUMNS[dataset], rows)

    # Text: key = prompt name, value = vector whose first entry encodes the class id.
    def text_table(dim: int) -> dict[str, np.ndarray]:
        table = {}
        for class_id, prompt in prompt_of.items():
            vector = (rng.standard_normal(dim) / np.sqrt(dim)).astype(np.float32)
            vector[0] = class_id + 1.0
            table[prompt] = vector
        return table

    write_text_npy(features / "text" / f"word_embeddings_{dataset}_normed.npy", text_table(clip_dim))
    write_text_npy(features / "text" / f"wavcaps_word_embeddings_{dataset}_normed.npy", text_table(clap_dim))

    return BundleInfo(
        root=root,
        dataset=dataset,
        real_classes=use_reference,
        class_names=class_names,
        stage_classes={stage: lists[stage] for stage in STAGES},
        counts=counts,
        extra_classes=list(extra),
        prompt_of=prompt_of,
        skipped=skipped,
    )
