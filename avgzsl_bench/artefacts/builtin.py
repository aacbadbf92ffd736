"""The released archives of the ClipClap-GZSL and AVCA-GZSL papers."""

from __future__ import annotations

from avgzsl_bench.artefacts.catalog import Artefact, register_artefact
from avgzsl_bench.artefacts.rules import avca_dataset, checkpoint_tree, clip_clap_dataset
from avgzsl_bench.datasets.spec import DEFAULT_FEATURES, get_dataset

CLIPCLAP_REPO = "https://github.com/dkurzend/ClipClap-GZSL"
AVCA_REPO = "https://github.com/ExplainableML/AVCA-GZSL"
PAPER_DATASETS = ("vggsound", "ucf", "activitynet")
# Feature-set names of the AVCA-GZSL bundle's datasets (their readers are registered elsewhere).
AVCA_FEATURE_SETS = ("selavi", "c3d-vggish")

register_artefact(
    Artefact(
        name="clipclap-features",
        filename="data.zip",
        drive_id="1fNb3WvbN76yuPVi4MeVtgDycdX0jAE2G",
        description="CLIP/CLAP features of VGGSound-, UCF- and ActivityNet-GZSL^cls (the ClipClap paper's data)",
        publisher=CLIPCLAP_REPO,
        subdir="",
        folders=tuple(clip_clap_dataset(get_dataset(name, DEFAULT_FEATURES)) for name in PAPER_DATASETS),
    )
)
register_artefact(
    Artefact(
        name="clipclap-models",
        filename="clipclap-models.zip",
        drive_id="1H_AwZa5--So5SwHurT5Hq9p1RBo8s3fj",
        description="the ClipClap paper's trained models (stage-1 best and stage-2 checkpoints per dataset)",
        publisher=CLIPCLAP_REPO,
        subdir="clipclap-models",
        folders=(checkpoint_tree("reference checkpoints (stage 1 and stage 2 per dataset)"),),
    )
)
register_artefact(
    Artefact(
        name="avca-gzsl-features",
        filename="avgzsl_benchmark_datasets.zip",
        drive_id="1NzpSVL-2nXRFH6pvHNOZeRhu_jfDL0ZE",
        description="the AVCA-GZSL benchmark: SeLaVi and C3D/VGGish features of the three datasets (h5 files)",
        publisher=AVCA_REPO,
        subdir="avgzsl_benchmark_datasets",
        folders=(
            avca_dataset("VGGSound", "vggsound", AVCA_FEATURE_SETS),
            avca_dataset("UCF", "ucf", AVCA_FEATURE_SETS),
            avca_dataset("ActivityNet", "activitynet", AVCA_FEATURE_SETS),
        ),
    )
)
