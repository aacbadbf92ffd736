"""Writes small datasets in the exact on-disk layout of the temporal benchmark (TCAF's release).

    info = write_tcaf_bundle(tmp_path / "UCF", "ucf", "c3d-vggish-temporal")
    dataset = DataSource("ucf", str(info.root), features="c3d-vggish-temporal", cache_dir=...).load()

Layout written under `root` (one dataset folder of `avgzsl_benchmark_non_averaged_datasets/`):

    class-split/all_class.txt, <ds>_w2v_class_names.csv, main_split/stage_*.txt, cls_split/stage_*.txt
    features/<cls|main>_features_non_averaged/{audio,video}/<stage>/<ClassName>.pkl
        (a dict: `features` = one (T_i, dim) float32 array per video, `video_names`, `fps` per video)
    features/<cls|main>_features_non_averaged/text/word_embeddings_<ucf|activity|vggsound>_normed.npy

The class split is the AVCA-GZSL benchmark's (copied at call time from the reference copy when it
exists, as `avca_bundle_factory` does; else a synthetic one). Sequences vary in length per video
(`min_steps`..`max_steps` video steps) and the audio sequence of a video is shorter or longer as
the two modalities' step rates say; every step is the class latent projected into the modality
plus noise, so pooled methods can learn. With `code=True`, step t of video j carries
v[0] = class id + 1, v[1] = stage index, v[2] = j, v[3] = t (audio and video alike).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avca_bundle_factory import LATENT_DIM, WORD2VEC_DIM, write_class_split, write_text_table
from bundle_factory import STAGES

TEMPORAL_SETS = {
    # features: (class split, feature folder, video dim, audio dim, video s/step, audio s/step)
    "c3d-vggish-temporal": ("cls_split", "cls_features_non_averaged", 4096, 128, 0.64, 0.96),
    "selavi-temporal": ("main_split", "main_features_non_averaged", 512, 512, 1.0, 1.0),
}


@dataclass
class TcafBundleInfo:
    root: Path
    dataset: str
    features: str
    class_names: list[str]
    stage_classes: dict[str, list[str]]
    lengths: dict[str, dict[str, dict[str, list[int]]]]  # stage -> stem -> modality -> per-video steps

    @property
    def feature_root(self) -> Path:
        return self.root / "features" / TEMPORAL_SETS[self.features][1]

    def feature_path(self, modality: str, stage: str, stem: str) -> Path:
        return self.feature_root / modality / stage / f"{stem}.pkl"

    def first_file(self, stage: str = "stage_1_train") -> str:
        return sorted(self.lengths[stage])[0]


def write_class_pickle(path: Path, sequences: list[np.ndarray], names: list[str], fps: float = 25.0) -> None:
    """One per-class file as the TCAF release writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"features": sequences, "video_names": np.asarray(names), "fps": [fps] * len(sequences)}
    path.write_bytes(pickle.dumps(payload, protocol=4))


def write_tcaf_bundle(
    root: Path,
    dataset: str,
    features: str = "c3d-vggish-temporal",
    *,
    classes: str = "auto",
    classes_per_split: Mapping[str, int] | None = None,
    samples_per_class: int = 3,
    min_steps: int = 1,
    max_steps: int = 12,
    video_dim: int | None = None,
    audio_dim: int | None = None,
    noise: float = 0.6,
    code: bool = False,
    seed: int = 0,
) -> TcafBundleInfo:
    """Write one dataset folder for `dataset` ("ucf", "activitynet", "vggsound") with temporal `features`."""
    split_folder, feature_folder, default_video, default_audio, step_v, step_a = TEMPORAL_SETS[features]
    dims = {"video": video_dim or default_video, "audio": audio_dim or default_audio}
    rng = np.random.default_rng(seed)
    root = Path(root)
    split = write_class_split(root, dataset, split_folder, classes, classes_per_split)
    lists, class_names = split.stage_classes, split.class_names
    latents = rng.standard_normal((len(class_names), LATENT_DIM))
    maps = {modality: rng.standard_normal((LATENT_DIM, dim)) for modality, dim in dims.items()}
    feature_root = root / "features" / feature_folder
    lengths: dict[str, dict[str, dict[str, list[int]]]] = {stage: {} for stage in STAGES}
    for stage_index, stage in enumerate(STAGES):
        for stem in lists[stage]:
            class_id = split.class_id(stem)
            video_steps = rng.integers(min_steps, max_steps + 1, samples_per_class)
            steps = {"video": video_steps, "audio": np.maximum(1, np.round(video_steps * step_v / step_a)).astype(int)}
            names = [f"{stem}_{stage_index}_{j:03d}" for j in range(samples_per_class)]
            lengths[stage][stem] = {m: [int(t) for t in steps[m]] for m in steps}
            for modality, projection in maps.items():
                sequences = []
                for j, count in enumerate(steps[modality]):
                    sample = latents[class_id] + noise * rng.standard_normal((int(count), LATENT_DIM))
                    sequence = (sample @ projection / np.sqrt(LATENT_DIM)).astype(np.float32)
                    if code:
                        sequence[:, :4] = np.stack(
                            [
                                np.full(count, class_id + 1.0),
                                np.full(count, stage_index),
                                np.full(count, j),
                                np.arange(count),
                            ],
                            axis=1,
                        )
                    sequences.append(sequence)
                write_class_pickle(feature_root / modality / stage / f"{stem}.pkl", sequences, names)
    # drawn after the features (unlike the AVCA writer), and the text carries no code
    text_map = rng.standard_normal((LATENT_DIM, WORD2VEC_DIM))
    write_text_table(feature_root, dataset, split.prompt_of, latents, text_map, rng)
    return TcafBundleInfo(root, dataset, features, class_names, lists, lengths)
