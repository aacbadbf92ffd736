"""Degenerate data and bad settings are refused before any training, with one message and exit 2."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from avgzsl_bench.cli import main
from avgzsl_bench.store.sqlite import ResultStore

from bundle_factory import write_bundle


@pytest.fixture
def bundle(tmp_path: Path):
    return write_bundle(tmp_path / "UCF", "ucf", classes="synthetic", samples_per_class=3)


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main([*argv, "--quiet"])
    return code, " ".join(capsys.readouterr().err.split())


def on_bundle(info, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--methods",
        "clipclap",
        "--dataset",
        "ucf",
        "--root",
        str(info.root),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--store",
        str(tmp_path / "store.sqlite"),
        "--epochs",
        "1",
        "--set",
        "batches_per_epoch=2",
        *extra,
    ]


@pytest.mark.parametrize(
    "stage, role", [("stage_2_test_unseen", "unseen"), ("stage_1_train", "seen"), ("stage_1_val_unseen", "unseen")]
)
def test_an_empty_split_list_is_refused_naming_the_file(bundle, tmp_path, capsys, stage, role):
    (bundle.class_split / "cls_split" / f"{stage}.txt").write_text("")
    code, err = run_cli(on_bundle(bundle, tmp_path), capsys)
    assert code == 2 and "Traceback" not in err
    assert f"cls_split/{stage}.txt' lists no classes" in err and f"no {role} classes" in err
    assert not ResultStore(tmp_path / "store.sqlite").runs()  # nothing ran, nothing stored


def test_a_listed_class_without_samples_is_named(bundle, tmp_path, capsys):
    stem = bundle.stage_classes["stage_1_val_unseen"][0]
    for modality in ("audio", "video"):
        path = bundle.feature_path(modality, "stage_1_val_unseen", stem)
        payload = pickle.loads(path.read_bytes())
        payload["features"], payload["video_names"] = [], []
        path.write_bytes(pickle.dumps(payload))
    code, err = run_cli(on_bundle(bundle, tmp_path), capsys)
    assert code == 2
    assert f"class '{stem}' is listed in" in err and "stage_1_val_unseen.txt" in err and "holds no vectors" in err


def test_a_listed_class_without_a_file_is_named(bundle, tmp_path, capsys):
    stem = bundle.stage_classes["stage_2_test_unseen"][0]
    for modality in ("audio", "video"):
        bundle.feature_path(modality, "stage_2_test_unseen", stem).unlink()
    code, err = run_cli(on_bundle(bundle, tmp_path), capsys)
    assert code == 2 and f"class '{stem}' is listed in" in err and "has no feature file" in err


def test_dataset_validation_refuses_empty_class_sets(tiny_demo):
    from dataclasses import replace

    from avgzsl_bench.errors import BenchError

    test = tiny_demo.splits["test"]
    keep = ~np.isin(test.labels.numpy(), test.unseen.numpy())
    seen_only = replace(
        test, video=test.video[keep], audio=test.audio[keep], labels=test.labels[keep], unseen=test.unseen[:0], names=()
    )
    broken = replace(tiny_demo, splits={**tiny_demo.splits, "test": seen_only})
    with pytest.raises(BenchError, match="split 'test' has no unseen classes"):
        broken.validate()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--epochs", "0"], "'epochs' of method 'clipclap' must lie in [1, inf)"),
        (["--epochs", "-3"], "'epochs' of method 'clipclap' must lie in [1, inf)"),
        (["--set", "lr=abc"], "'lr' of method 'clipclap' expects a number (default 0.0001), got 'abc'"),
        (["--set", "lr=0"], "'lr' of method 'clipclap' must lie in (0, inf)"),
        (["--set", "batch_size=0"], "'batch_size' of method 'clipclap' must lie in [1, inf)"),
        (["--set", "batch_size=2.5"], "'batch_size' of method 'clipclap' expects an integer"),
        (["--set", "dropout=1.0"], "'dropout' of method 'clipclap' must lie in [0, 1)"),
        (["--set", "modality=foo"], "'modality' of method 'clipclap' must be one of 'both', 'audio', 'video'"),
        (["--set", "hidden_batch_norm=maybe"], "'hidden_batch_norm' of method 'clipclap' expects a bool"),
        (["--set", "losses=reg+kl"], "losses must join one or more of reg, ce, rec"),
        (["--threads", "0"], "--threads must be at least 1"),
    ],
)
def test_bad_settings_exit_2_before_any_job_starts(tmp_path, capsys, flags, message):
    store = tmp_path / "store.sqlite"
    code, err = run_cli(
        ["--methods", "clipclap", "--dataset", "demo", "--demo-samples", "12", "--store", str(store), *flags], capsys
    )
    assert code == 2 and "Traceback" not in err and "retrying" not in err
    assert message in err
    assert not store.exists() or not ResultStore(store).runs()


def test_training_free_methods_accept_zero_epochs(tmp_path, capsys):
    code, _ = run_cli(
        ["--methods", "zeroshot", "--dataset", "demo", "--demo-samples", "12", "--epochs", "0", "--no-store"], capsys
    )
    assert code == 0


def test_unwritable_store_folder_is_named(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = run_cli(["--methods", "zeroshot", "--store", str(blocker / "sub" / "s.sqlite")], capsys)
    assert code == 2 and "cannot create the results store folder" in err and str(blocker / "sub") in err
    # Root can write anywhere, so a read-only folder is simulated at the permission check itself.
    folder = tmp_path / "readonly"
    folder.mkdir()
    monkeypatch.setattr("avgzsl_bench.store.sqlite.os.access", lambda path, mode: False)
    code, err = run_cli(["--methods", "zeroshot", "--store", str(folder / "s.sqlite")], capsys)
    assert code == 2 and "is not writable" in err and str(folder) in err


def test_read_only_store_file_is_named(tmp_path, capsys, monkeypatch):
    store = tmp_path / "s.sqlite"
    store.touch()
    # Root can write anything, so the read-only file is simulated at the permission check itself.
    monkeypatch.setattr("avgzsl_bench.store.sqlite.os.access", lambda path, mode: Path(path) != store)
    code, err = run_cli(["--methods", "zeroshot", "--store", str(store)], capsys)
    assert code == 2 and f"'{store}' is not writable (the file is read-only)" in err


def test_a_class_missing_from_the_name_table_names_the_table_not_the_text_file(bundle, tmp_path, capsys):
    stem = bundle.stage_classes["stage_2_test_unseen"][0]
    table = bundle.class_split / "ucf_clip_class_names.csv"
    rows = table.read_text().splitlines()
    table.write_text("\n".join(row for row in rows if not row.startswith(f"{stem},")) + "\n")
    code, err = run_cli(on_bundle(bundle, tmp_path), capsys)
    assert code == 2 and f"class '{stem}' has no row in the name table '{table}'" in err, err
    assert bundle.prompt_of[bundle.class_id(stem)] in err  # the text key now left without a class
    assert "have no vector" not in err


def test_another_feature_set_than_the_folder_holds_names_the_one_it_holds(bundle, tmp_path, capsys):
    from avca_bundle_factory import write_avca_bundle

    shutil.rmtree(bundle.class_split / "main_split")  # as in the released CLIP/CLAP bundle
    code, err = run_cli(on_bundle(bundle, tmp_path, "--features", "selavi"), capsys)
    assert code == 2 and "holds clip-clap features, not selavi" in err and "use --features clip-clap" in err, err
    assert "split=" not in err

    avca = write_avca_bundle(tmp_path / "AVCA" / "UCF", "ucf", features="selavi")
    code, err = run_cli([*on_bundle(bundle, tmp_path)[:5], str(avca.root), "--no-store"], capsys)
    assert code == 2 and "holds selavi features, not clip-clap" in err and "use --features selavi" in err, err
