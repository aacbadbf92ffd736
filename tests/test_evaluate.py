"""`bench.py evaluate`: reference-format checkpoints and `run --save-models` files give exactly our numbers."""

from __future__ import annotations

import re
import zipfile

import pytest
import torch

from avgzsl_bench.api import get_method
from avgzsl_bench.artefacts.checkpoints import load_reference_pair, select_pair
from avgzsl_bench.cli import main
from avgzsl_bench.errors import BenchError
from avgzsl_bench.protocol.stages import evaluate, evaluate_test, summarise_stage1
from avgzsl_bench.protocol.trained import evaluate_models
from avgzsl_bench.store.sqlite import ResultStore
from avgzsl_bench.training.trainer import RunTrainer

SUBNETS = ("O_enc", "W_enc", "O_proj", "D_o", "W_proj", "D_w")


def reference_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our ClipClap keys in the reference layout, where each sub-network's layers sit under `.fc`."""
    pattern = re.compile(r"^(" + "|".join(SUBNETS) + r")\.")
    renamed = {pattern.sub(r"\1.fc.", key): value for key, value in state.items()}
    assert all(".fc." in key for key in renamed)
    return renamed


def trained_clipclap(dataset, seed: int) -> torch.nn.Module:
    """A ClipClap trained for a few batches (weights and BatchNorm statistics away from their initial values)."""
    spec = get_method("clipclap")
    trainer = RunTrainer(spec, dataset, spec.hparams("demo", {"batches_per_epoch": 15}), [seed], "train")
    for _ in range(2):
        trainer.train_epoch()
    return trainer.model.eval()


def write_reference_run(root, model_a, model_b, epoch: int) -> None:
    """The reference's on-disk layout: stage-1 best model, stage-2 per-epoch checkpoints (+ distractors)."""
    stage1, stage2 = root / "ClipClap_demo" / "stage_1", root / "ClipClap_demo" / "stage_2"
    (stage2 / "checkpoints").mkdir(parents=True)
    stage1.mkdir(parents=True)

    def save(path, model, saved_epoch):
        state = {"epoch": saved_epoch, "model": reference_keys(model.state_dict()), "optimizer": {}, "metric": "score"}
        torch.save(state, path)

    save(stage1 / "ClipClap_model_score.pt", model_a, epoch)
    save(stage2 / "ClipClap_model_score.pt", model_a, 1)  # stage 2's own best file: ignored
    for index in range(epoch):
        save(
            stage2 / "checkpoints" / f"ClipClap_model_score_ckpt_{index}.pt",
            model_b if index == epoch - 1 else model_a,
            index + 1,
        )


def test_reference_checkpoint_evaluates_to_exactly_our_models_numbers(tmp_path, tiny_demo):
    model_a, model_b = trained_clipclap(tiny_demo, 1), trained_clipclap(tiny_demo, 2)
    stage1 = summarise_stage1(evaluate(model_a, tiny_demo.splits["val"], tiny_demo.text), 3, [], 0.0)
    expected = evaluate_test(model_b, tiny_demo, stage1.test_beta)
    assert expected.test["hm"] > 0 and stage1.val["hm"] > 0  # numbers worth comparing

    write_reference_run(tmp_path, model_a, model_b, epoch=3)
    pair = select_pair(tmp_path, "demo", {"demo": "demo"})
    assert pair.stage1.parent.name == "stage_1" and pair.stage2.name == "ClipClap_model_score_ckpt_2.pt"
    models = load_reference_pair(pair.stage1, pair.stage2)
    spec = get_method("clipclap")
    result = evaluate_models(spec, tiny_demo, spec.hparams("demo"), models)
    assert result.stage1.val == stage1.val and result.stage1.val_betas == stage1.val_betas
    assert result.measured == expected
    assert models.best_epochs == 3


def test_a_checkpoint_that_does_not_fit_says_which_setting_to_pass(tmp_path, tiny_demo):
    model = trained_clipclap(tiny_demo, 1)
    write_reference_run(tmp_path, model, model, epoch=1)
    pair = select_pair(tmp_path, "demo", {"demo": "demo"})
    spec = get_method("clipclap")
    with pytest.raises(BenchError, match="--set") as error:
        evaluate_models(
            spec, tiny_demo, spec.hparams("demo", {"modality": "audio"}), load_reference_pair(pair.stage1, pair.stage2)
        )
    assert "O_enc.0.weight" in str(error.value)


def test_cli_evaluates_a_reference_tree_with_the_legacy_text_order(capsys, tmp_path, tiny_demo):
    model_a, model_b = trained_clipclap(tiny_demo, 1), trained_clipclap(tiny_demo, 2)
    write_reference_run(tmp_path / "runs", model_a, model_b, epoch=2)
    store = tmp_path / "r.sqlite"
    code = main(
        ["evaluate", str(tmp_path / "runs"), "--dataset", "demo", "--demo-samples", "12", "--store", str(store)]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "position-based text mapping" in " ".join(captured.err.split())
    assert "| clipclap (evaluated) | demo" in captured.out
    (record,) = ResultStore(store).runs()
    assert record.kind == "evaluation" and record.key.startswith("eval-clipclap-demo-")
    assert record.config["models"]["origin"] == "reference checkpoint" and record.best_epochs == 2


@pytest.mark.parametrize("method", ["clipclap", "cjme"])  # one view, and two views whose β are averaged
def test_saved_then_evaluated_model_reproduces_the_stored_run_exactly(capsys, tmp_path, method):
    store, models = tmp_path / "r.sqlite", tmp_path / "models"
    common = ["--demo-samples", "12", "--store", str(store), "--quiet", "--threads", "1"]
    run = ["--methods", method, "--dataset", "demo", "--epochs", "3", "--set", "batches_per_epoch=20"]
    assert main([*run, *common, "--save-models", str(models)]) == 0
    (trained,) = ResultStore(store).runs()
    assert trained.hm > 0  # a degenerate run would make equality meaningless
    (saved,) = models.glob("*.pt")
    assert saved.name == f"{trained.key}.pt"

    assert main(["evaluate", str(saved), "--store", str(store)]) == 0
    assert "identical" in capsys.readouterr().err
    (evaluated,) = ResultStore(store).runs(kind="evaluation")
    assert evaluated.metrics == trained.metrics and evaluated.beta == trained.beta
    assert evaluated.val == trained.val and evaluated.val_betas == trained.val_betas
    assert evaluated.per_class == trained.per_class and evaluated.best_epochs == trained.best_epochs
    # the unseen test classes too: a single-seed evaluated row gets a class-bootstrap interval from them
    assert evaluated.unseen_classes == trained.unseen_classes and evaluated.unseen_classes
    assert evaluated.config["data"] == trained.config["data"] and evaluated.key != trained.key
    # `bench.py evaluate` stores the evaluation's per-sample predictions: those of the run that saved the models
    ours, theirs = ResultStore(store).predictions(evaluated.key), ResultStore(store).predictions(trained.key)
    assert ours is not None and theirs is not None and (ours.predicted == theirs.predicted).all()


def test_save_models_retrains_a_stored_run_that_has_no_models(capsys, tmp_path):
    store, models = tmp_path / "r.sqlite", tmp_path / "models"
    args = ["--methods", "clipclap", "--dataset", "demo", "--demo-samples", "12", "--epochs", "1"]
    args += ["--set", "batches_per_epoch=5", "--store", str(store), "--quiet", "--threads", "1"]
    assert main(args) == 0
    assert main([*args, "--save-models", str(models)]) == 0
    assert len(list(models.glob("*.pt"))) == 1 and len(ResultStore(store).runs()) == 1


def test_released_models_fetched_from_a_zip_are_found_by_contents(tmp_path, tiny_demo, monkeypatch, capsys):
    model = trained_clipclap(tiny_demo, 1)
    write_reference_run(tmp_path / "tree", model, model, epoch=1)
    archive = tmp_path / "models.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in (tmp_path / "tree").rglob("*.pt"):
            bundle.write(path, "ClipClap_trained_models/" + path.relative_to(tmp_path / "tree").as_posix())
    home = tmp_path / "home"
    monkeypatch.setenv("AVGZSL_DATA", str(home))
    assert main(["fetch", "clipclap-models", "--archive", str(archive), "--quiet"]) == 0
    installed = home / "clipclap-models" / "ClipClap_trained_models" / "ClipClap_demo"
    assert (installed / "stage_1" / "ClipClap_model_score.pt").is_file()
    code = main(["evaluate", "--dataset", "demo", "--demo-samples", "12", "--no-store"])
    assert code == 0, capsys.readouterr().err
