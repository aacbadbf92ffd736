"""The registries: the method contract is checked at registration, plugins are discovered through
entry points without one broken plugin hiding the others, and a data source is loaded once per
process however many jobs (or pickled copies of them) use it."""

from __future__ import annotations

import pickle
import sys
import warnings
from pathlib import Path

import pytest
import torch

from avgzsl_bench.api import METHODS, GZSLMethod, MethodSpec, get_method, register_method
from avgzsl_bench.datasets import DATASETS, READERS, DatasetSpec, DataSource, get_dataset, list_datasets
from avgzsl_bench.errors import BenchError
from avgzsl_bench.executors.local import LocalExecutor
from avgzsl_bench.jobs.environment import load_data
from avgzsl_bench.jobs.job import make_jobs
from avgzsl_bench.jobs.run import map_jobs
from avgzsl_bench.registry import Registry

SCHEDULE = {"default": {"epochs": 1, "lr": 1e-3, "batch_size": 8, "batches_per_epoch": 2}}


class Incomplete(GZSLMethod):
    def loss(self, batch):  # no distances()
        return {}


class NotAMethod(torch.nn.Module):
    def loss(self, batch):
        return {}

    def distances(self, video, audio, class_text):
        return {}


class Complete(Incomplete):
    def distances(self, video, audio, class_text):
        return {"both": torch.cdist(video, class_text.clip)}


@pytest.mark.parametrize(
    "cls, schedule, message",
    [
        (NotAMethod, SCHEDULE, "is not a subclass of avgzsl_bench.api.GZSLMethod"),
        (Incomplete, SCHEDULE, "Incomplete does not implement distances"),
        (Complete, {"default": {"epochs": 1, "lr": 1e-3}}, "schedule defaults lack batch_size, batches_per_epoch"),
        (Complete, {"default": {**SCHEDULE["default"], "dropout": 0.1}}, "dropout are not schedule keys"),
    ],
)
def test_register_method_refuses_what_breaks_the_contract(cls, schedule, message):
    with pytest.raises(BenchError, match=message):
        register_method("test-broken", schedule=schedule)(cls)
    assert "test-broken" not in METHODS


def test_temporary_registration_is_removed_afterwards():
    with METHODS.temporary("test-complete", MethodSpec("test-complete", Complete, SCHEDULE)):
        assert get_method("test-complete").cls is Complete
    assert "test-complete" not in METHODS
    with pytest.raises(BenchError, match="unknown method 'test-complete'; available: "):
        get_method("test-complete")


def _plugin_distribution(site: Path, group: str, entries: dict[str, str]) -> None:
    """An installed distribution (as pip would leave it) declaring `entries` in `group`."""
    info = site / "fake_plugins-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()))


def test_a_broken_plugin_is_reported_by_name_and_does_not_hide_the_others(tmp_path, monkeypatch):
    group = "avgzsl_bench_test.plugins"
    _plugin_distribution(tmp_path, group, {"good": "good_plugin", "bad": "bad_plugin"})
    (tmp_path / "good_plugin.py").write_text("import sys\nsys.modules['good_plugin'].LOADED = True\n")
    (tmp_path / "bad_plugin.py").write_text("raise ImportError('needs a package that is not installed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry: Registry[int] = Registry("widget", entry_point_group=group)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry.discover()
    assert sys.modules["good_plugin"].LOADED
    assert "bad" in registry.plugin_errors and "needs a package" in registry.plugin_errors["bad"]
    assert any("widget plugin 'bad'" in str(warning.message) for warning in caught)
    with pytest.raises(BenchError, match="widget plugin 'bad': bad_plugin failed to import"):
        registry.get("bad")
    registry.discover()  # discovery ran to the end once; it is not repeated
    assert len(registry.plugin_errors) == 1


def test_the_dataset_registry_is_the_one_list_of_datasets():
    assert list_datasets() == ["vggsound", "ucf", "activitynet", "demo"]  # the paper's column order first
    assert get_dataset("UCF").paper_name == "UCF-GZSL^cls"
    with pytest.raises(BenchError, match="dataset 'ucf' has no feature set 'nope'"):
        get_dataset("ucf", "nope")


def test_a_data_source_is_loaded_once_per_process(tiny_demo, tmp_path, monkeypatch):
    loads = []

    def counting_reader(spec: DatasetSpec, source: DataSource):
        loads.append(source.root)
        return tiny_demo

    spec = DatasetSpec(name="countme", paper_name="countme", reader="counting", feature_label="test", folder="CountMe")
    (tmp_path / "CountMe").mkdir()
    monkeypatch.chdir(tmp_path)
    with READERS.temporary("counting", counting_reader), DATASETS.temporary(spec.key, spec):
        relative = DataSource("countme", root="CountMe")
        absolute = DataSource("countme", root=str(tmp_path / "CountMe"))
        assert relative == absolute and relative.root == str(tmp_path / "CountMe")  # resolved when made
        jobs = make_jobs(["clipclap"], relative, [1, 2], {"epochs": 1, "batches_per_epoch": 2})
        shipped = [pickle.loads(pickle.dumps(job)) for job in jobs]  # what a remote executor receives
        load_data.cache_clear()
        report = map_jobs(LocalExecutor(), [*jobs, *shipped], None, "cpu")
        load_data.cache_clear()
    assert not report.failures and len(report.records) == 4
    assert loads == [str(tmp_path / "CountMe")]
