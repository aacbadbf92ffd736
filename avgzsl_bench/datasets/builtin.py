"""The built-in datasets: the three ClipClap benchmarks (in the paper's column order), the demo, and the
same three benchmarks with the AVCA-GZSL feature sets (SeLaVi; C3D + VGGish)."""

from __future__ import annotations

from dataclasses import replace

from avgzsl_bench.datasets.dims import DEFAULT_FEATURES, FeatureDims
from avgzsl_bench.datasets.spec import DatasetSpec, get_dataset, register_dataset

CLIP_CLAP_LABEL = "CLIP ViT-B/32 + CLAP"


def _clip_clap(
    name: str, paper_name: str, folder: str, name_csv: str, prompt_column: str, lower_case: bool, prompt_set: str
) -> DatasetSpec:
    """A dataset of the released ClipClap bundle: CLIP video 512, WavCaps CLAP audio 1024."""
    return DatasetSpec(
        name=name,
        paper_name=paper_name,
        reader="pickle-bundle",
        feature_label=CLIP_CLAP_LABEL,
        folder=folder,
        name_csv=name_csv,
        prompt_column=prompt_column,
        lower_case=lower_case,
        prompt_set=prompt_set,
        text_files={"clip": f"word_embeddings_{name}_normed.npy", "clap": f"wavcaps_word_embeddings_{name}_normed.npy"},
    )


register_dataset(
    _clip_clap(
        "vggsound",
        "VGGSound-GZSL^cls",
        "VGGSound",
        "vggsound_w2v_class_names.csv",
        "manual",
        lower_case=False,
        prompt_set="generic",
    )
)
# UCF's class names differ in case between all_class.txt and the split files (HandstandPushups vs
# HandStandPushups); the reference therefore compares UCF and ActivityNet names lower-cased.
register_dataset(
    _clip_clap(
        "ucf",
        "UCF-GZSL^cls",
        "UCF",
        "ucf_clip_class_names.csv",
        "clip_class_name",
        lower_case=True,
        prompt_set="person",
    )
)
register_dataset(
    _clip_clap(
        "activitynet",
        "ActivityNet-GZSL^cls",
        "ActivityNet",
        "activitynet_w2v_class_names.csv",
        "manual",
        lower_case=True,
        prompt_set="person",
    )
)
register_dataset(
    DatasetSpec(
        name="demo",
        paper_name="demo",
        reader="synthetic",
        feature_label="synthetic demo (CLIP/CLAP dims)",
        synthetic=True,
    )
)

# ---- The AVCA-GZSL benchmark's own feature sets (Mercea et al., CVPR 2022) ------------------------
# SeLaVi audio/video features with the "main" class split, and C3D video + VGGish audio with the
# "cls" split; one .h5 file per class and stage, and 300-d word2vec class embeddings (a dict keyed
# by the names in <ds>_w2v_class_names.csv, column "manual"). Class names are matched as the
# reference code matches them: case-insensitively for UCF and ActivityNet, exactly for VGGSound.
AVCA_GZSL_FEATURES = {
    # features: (class split, feature folder, label, video dim, audio dim, split tag of the paper names)
    "selavi": ("main_split", "main_features", "SeLaVi (AVCA-GZSL)", 512, 512, "main"),
    "c3d-vggish": ("cls_split", "cls_features", "C3D + VGGish (AVCA-GZSL)", 4096, 128, "cls"),
}
WORD2VEC_DIM = 300
# dataset: (archive folder, paper name stem, text-file tag, name CSV, lower-case matching)
AVCA_GZSL_DATASETS = {
    "vggsound": ("VGGSound", "VGGSound-GZSL", "vggsound", "vggsound_w2v_class_names.csv", False),
    "ucf": ("UCF", "UCF-GZSL", "ucf", "ucf_w2v_class_names.csv", True),
    "activitynet": ("ActivityNet", "ActivityNet-GZSL", "activity", "activitynet_w2v_class_names.csv", True),
}


def _avca_gzsl(name: str, features: str) -> DatasetSpec:
    class_split, feature_dir, label, video_dim, audio_dim, tag = AVCA_GZSL_FEATURES[features]
    folder, paper_stem, text_tag, name_csv, lower_case = AVCA_GZSL_DATASETS[name]
    return DatasetSpec(
        name=name,
        paper_name=f"{paper_stem}^{tag}",
        reader="h5-bundle",
        feature_label=label,
        features=features,
        folder=folder,
        class_split=class_split,
        feature_dir=feature_dir,
        feature_suffix=".h5",
        name_csv=name_csv,
        prompt_column="manual",
        lower_case=lower_case,
        text_files={"w2v": f"word_embeddings_{text_tag}_normed.npy"},
        dims=FeatureDims(video_dim, audio_dim, (("w2v", WORD2VEC_DIM),)),
    )


for _features in AVCA_GZSL_FEATURES:
    for _name in AVCA_GZSL_DATASETS:
        register_dataset(_avca_gzsl(_name, _features))

# ---- The temporal benchmark (TCAF, Mercea et al., ECCV 2022) ---------------------------------------
# The same classes, splits and word2vec text as the AVCA-GZSL sets, but one feature sequence per
# video (folder avgzsl_benchmark_non_averaged_datasets/<DS>/). One C3D step covers 16 frames at
# 25 fps (0.64 s), one VGGish step 0.96 s; SeLaVi's temporal features step once per second (the
# reference's collator uses rate 1 for both of its modalities).
TEMPORAL_FEATURES = {
    # features: (averaged twin, feature folder, label, step seconds per modality)
    "c3d-vggish-temporal": (
        "c3d-vggish",
        "cls_features_non_averaged",
        "C3D + VGGish sequences (TCAF)",
        {"video": 16 / 25, "audio": 0.96},
    ),
    "selavi-temporal": (
        "selavi",
        "main_features_non_averaged",
        "SeLaVi sequences (TCAF)",
        {"video": 1.0, "audio": 1.0},
    ),
}


# Where the default data folder keeps them: the release's top folder (no `bench.py fetch` archive
# exists: its download links are dead), so they never resolve to the ClipClap bundle's UCF/ folder,
# whose feature folder has the same name but holds one vector per video.
TEMPORAL_RELEASE_FOLDER = "avgzsl_benchmark_non_averaged_datasets"


def _temporal(name: str, features: str) -> DatasetSpec:
    twin, feature_dir, label, step_s = TEMPORAL_FEATURES[features]
    averaged = _avca_gzsl(name, twin)
    return replace(
        averaged,
        folder=f"{TEMPORAL_RELEASE_FOLDER}/{averaged.folder}",
        reader="tcaf-bundle",
        feature_label=label,
        features=features,
        feature_dir=feature_dir,
        feature_suffix=".pkl",
        step_s=step_s,
    )


for _features in TEMPORAL_FEATURES:
    for _name in AVCA_GZSL_DATASETS:
        register_dataset(_temporal(_name, _features))

# ---- Temporal CLIP/CLAP from the feature zoo (`feature_zoo extract --temporal`) --------------------
# The ClipClap benchmarks' classes, splits and CLIP/CLAP class text, with one CLIP vector per second
# of video (the frame at the middle of each second) and one CLAP vector per 1-s audio window (hop
# 1 s): no published features exist in this form, the zoo writes them. The zoo reads the folder and
# the step durations from here, so the writer and the reader cannot disagree.
CLIP_CLAP_TEMPORAL = "clip-clap-temporal"
CLIP_CLAP_TEMPORAL_DIR = "clip_clap_features_non_averaged"
CLIP_CLAP_TEMPORAL_STEP_S = {"video": 1.0, "audio": 1.0}


def _clip_clap_temporal(name: str) -> DatasetSpec:
    return replace(
        get_dataset(name, DEFAULT_FEATURES),
        reader="tcaf-bundle",
        feature_label="CLIP ViT-B/32 + CLAP sequences (feature zoo)",
        features=CLIP_CLAP_TEMPORAL,
        feature_dir=CLIP_CLAP_TEMPORAL_DIR,
        step_s=CLIP_CLAP_TEMPORAL_STEP_S,
    )


for _name in ("vggsound", "ucf", "activitynet"):
    register_dataset(_clip_clap_temporal(_name))
