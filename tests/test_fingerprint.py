"""Data fingerprints: stable across loads and machines, changed by any input, hashed once per bundle state."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from avgzsl_bench.datasets import fingerprint as fingerprint_module
from avgzsl_bench.datasets import load_bundle
from avgzsl_bench.datasets.demo import make_demo_dataset

from bundle_factory import read_feature_pickle, write_bundle, write_feature_pickle


@pytest.fixture
def bundle(tmp_path: Path):
    return write_bundle(tmp_path / "UCF", "ucf", classes="synthetic", samples_per_class=3)


def _load(root: Path, cache: Path, **options):
    return load_bundle(root, "ucf", cache_dir=cache, **options)


def _count_hashing(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    hashed: list[str] = []
    real = fingerprint_module.sha256_file

    def counting(path):
        hashed.append(str(path))
        return real(path)

    monkeypatch.setattr(fingerprint_module, "sha256_file", counting)
    return hashed


def test_stable_across_loads_and_locations(bundle, tmp_path: Path) -> None:
    first = _load(bundle.root, tmp_path / "cache-a")
    again = _load(bundle.root, tmp_path / "cache-b")  # a second, independent computation
    assert len(first.fingerprint) == 64 and int(first.fingerprint, 16) >= 0
    assert again.fingerprint == first.fingerprint
    moved = tmp_path / "elsewhere" / "UCF"
    shutil.copytree(bundle.root, moved)  # another machine's copy: same files, other absolute path
    assert _load(moved, tmp_path / "cache-c").fingerprint == first.fingerprint
    legacy = _load(bundle.root, tmp_path / "cache-a", legacy_text_order=True)
    assert legacy.fingerprint != first.fingerprint  # the text-attachment rule is part of the data version


def test_changes_when_a_feature_file_changes(bundle, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = _load(bundle.root, cache).fingerprint
    stem = bundle.stage_classes["stage_2_test_seen"][0]
    path = bundle.feature_path("audio", "stage_2_test_seen", stem)
    record = read_feature_pickle(path)
    record["features"][0] = record["features"][0] + np.float32(1e-3)  # one value of one vector
    write_feature_pickle(path, record["features"], record["video_names"])
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the cache key sees the change
    assert _load(bundle.root, cache).fingerprint != before


def test_changes_when_a_split_file_changes(bundle, tmp_path: Path) -> None:
    before = _load(bundle.root, tmp_path / "cache").fingerprint
    split_file = bundle.class_split / "cls_split" / "stage_1_train.txt"
    split_file.write_text(split_file.read_text() + "\n")  # same classes, other bytes
    assert _load(bundle.root, tmp_path / "fresh").fingerprint != before


def test_cached_fingerprint_costs_no_hashing(bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed = _count_hashing(monkeypatch)
    cache = tmp_path / "cache"
    first = _load(bundle.root, cache)
    assert len(hashed) > 10  # every feature file, split list and text file was read once
    hashed.clear()
    second = _load(bundle.root, cache)
    assert hashed == [] and second.fingerprint == first.fingerprint


def test_cache_from_before_fingerprints_gains_one_without_parsing(
    bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    reference = _load(bundle.root, cache).fingerprint
    (cache_file,) = cache.glob("*.pt")
    payload = torch.load(cache_file, weights_only=True)
    del payload["fingerprint"]  # as an older version of the loader wrote it
    torch.save(payload, cache_file)

    def refuse(*args, **kwargs):
        raise AssertionError("the features must not be parsed again to add the fingerprint")

    monkeypatch.setattr(pickle, "load", refuse)
    assert _load(bundle.root, cache).fingerprint == reference
    hashed = _count_hashing(monkeypatch)
    assert _load(bundle.root, cache).fingerprint == reference and hashed == []  # written back


def test_demo_fingerprint_follows_its_parameters() -> None:
    assert make_demo_dataset(4).fingerprint == make_demo_dataset(4).fingerprint
    assert make_demo_dataset(4).fingerprint != make_demo_dataset(5).fingerprint
    assert make_demo_dataset(4).fingerprint != make_demo_dataset(4, seed=1).fingerprint
    assert make_demo_dataset(4).to("cpu").fingerprint == make_demo_dataset(4).fingerprint
