"""The built-in datasets: the three ClipClap benchmarks (in the paper's column order) and the demo."""

from __future__ import annotations

from avgzsl_bench.datasets.spec import DatasetSpec, register_dataset

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
