"""The offline HTML leaderboard: pages from the board row model, and the page in a real browser."""

from __future__ import annotations

import os
import re
from html import unescape
from pathlib import Path

import pytest

from avgzsl_bench.cli import main
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.datasets.fingerprint import short_fingerprint
from avgzsl_bench.errors import BenchError
from avgzsl_bench.jobs.job import make_jobs
from avgzsl_bench.reports.board import (
    CLAIM,
    EVALUATED_RELEASED,
    EVALUATED_SAVED,
    PUBLISHED,
    TRAINED,
    build_boards,
    provenance,
    reference_rows,
)
from avgzsl_bench.reports.data_version import UNRECORDED
from avgzsl_bench.reports.leaderboard import render_markdown
from avgzsl_bench.reports.paper import PAPER_REFERENCE, load_paper_reference
from avgzsl_bench.reports.svg import nice_ceiling, nice_ticks
from avgzsl_bench.store.frame import load_results
from avgzsl_bench.store.sqlite import ResultStore

SEEDS = (1, 2, 3)
FINGERPRINT = "0123456789abcdef" * 4
HOSTILE = "<script>alert(1)</script>"
# Mean HMs chosen so that a text sort would misorder them ("9.6" > "10.6" as strings).
HM = {"clipclap": 60.0, "avca": 10.6, "cjme": 9.6}


@pytest.fixture
def board_store(tmp_path: Path, fake_record) -> ResultStore:
    """UCF runs of three methods over three seeds, a single-seed variant with per-class recall, an
    evaluation of a released checkpoint, and a demo run whose settings hold markup."""
    store = ResultStore(tmp_path / "store.sqlite")
    ucf, demo = DataSource("ucf", root=str(tmp_path / "UCF")), DataSource("demo", demo_samples_per_class=12)

    def save(job, hm: float, fingerprint: str = FINGERPRINT, **changes) -> None:
        record = fake_record(job.key, seed=job.seed, method=job.method, dataset=job.source.dataset, hm=hm)
        record.config_hash, record.config = job.config_hash, job.config()
        record.feature_set, record.synthetic = job.source.feature_set, job.source.spec.synthetic
        record.data_fingerprint = fingerprint
        for name, value in changes.items():
            setattr(record, name, value)
        store.save_run(record)

    for method, hm in HM.items():
        for job in make_jobs([method], ucf, list(SEEDS)):
            save(job, hm + (job.seed - 2) * 0.5)
    recall = {f"class{i}": 10.0 * i for i in range(10)}
    unseen = [f"class{i}" for i in range(0, 10, 3)]
    (variant,) = make_jobs(["clipclap"], ucf, [1], {"text": "clip"})
    save(variant, 30.0, fingerprint="", per_class=recall, unseen_classes=unseen)
    (evaluated,) = make_jobs(["clipclap"], ucf, [42])
    config = {**evaluated.config(), "models": {"origin": "reference checkpoint", "sha256": {}}}
    save(evaluated, 45.0, key="eval-" + evaluated.key, kind="evaluation", config=config, config_hash="e" * 12)
    (job,) = make_jobs(["clipclap"], demo, [1])
    config = job.config()
    save(job, 70.0, config={**config, "hparams": {**config["hparams"], "text": HOSTILE}})  # as if a plugin allowed it
    return store


def _write(store: ResultStore, site: Path) -> int:
    return main(["leaderboard", "--store", str(store.path), "--html", str(site), "--quiet"])


def _cells(html: str, column: int) -> list[str]:
    """The text of one column of the board table, top to bottom (without source footnote marks)."""
    body = re.sub(r"<sup.*?</sup>", "", html.split('<table class="sortable board"')[1].split("</tbody>")[0])
    rows = re.findall(r"<tr class=\"(?:ranked|reference)\">(.*?)</tr>", body, flags=re.S)
    return [unescape(re.sub(r"<[^>]+>", "", re.findall(r"<td[^>]*>(.*?)</td>", row)[column])).strip() for row in rows]


def test_site_pages_render_the_board_rows(board_store: ResultStore, tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert _write(board_store, site) == 0
    assert sorted(path.name for path in site.iterdir()) == ["demo.html", "index.html", "ucf.html"]
    page = (site / "ucf.html").read_text()
    reference = load_paper_reference()
    published = [row for row in reference.tables[1].rows if row.paper]  # Table 1 has UCF numbers for all
    methods = _cells(page, 1)
    assert methods[:5] == [
        "clipclap",
        "clipclap (evaluated, provenance not verifiable)",
        "clipclap",
        "avca",
        "cjme",
    ]  # by mean HM
    provenance = _cells(page, 3)
    assert provenance[:5] == [TRAINED, EVALUATED_RELEASED, TRAINED, TRAINED, TRAINED]
    assert provenance[5:].count(CLAIM) == 1  # HSP-MoE's README number
    assert len(provenance) - 5 >= len(published) and set(provenance[5:]) == {PUBLISHED, CLAIM}
    assert _cells(page, 0)[:5] == ["1", "2", "3", "4", "5"] and set(_cells(page, 0)[5:]) == {"—"}
    data = _cells(page, 12)
    assert data[0] == short_fingerprint(FINGERPRINT) and data[2] == UNRECORDED  # the single-seed variant recorded none
    assert _cells(page, 5)[0] == "1, 2, 3"
    assert page.count("<svg") == 3 and page.count("<polyline") == 5  # HM-vs-β curves of the top five
    assert "class9" in page  # per-class recall of the variant
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched
    assert "<link" not in page and " src=" not in page
    index = (site / "index.html").read_text()
    assert 'href="ucf.html"' in index and 'href="demo.html"' in index


def test_markdown_and_html_render_one_row_model(board_store: ResultStore, tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert _write(board_store, site) == 0
    (_, ucf) = build_boards(load_results(board_store))
    markdown = render_markdown(ucf)
    page = (site / "ucf.html").read_text()
    ranked = len(ucf.rows)
    md_rows = [line.split("|")[1:-1] for line in markdown.splitlines() if line.startswith("|") and "`" in line]
    assert [cell.strip() for cell in (row[10] for row in md_rows)] == _cells(page, 10)[:ranked]  # HM 95% CI
    assert [cell.strip() for cell in (row[11] for row in md_rows)] == _cells(page, 11)[:ranked]  # HM vs best
    assert [cell.strip() for cell in (row[8] for row in md_rows)] == _cells(page, 8)[:ranked]  # HM


def test_text_is_escaped(board_store: ResultStore, tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert _write(board_store, site) == 0
    page = (site / "demo.html").read_text()
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "SYNTHETIC" in page and "published number" not in page  # no paper numbers for demo data


def test_site_refuses_a_foreign_folder_and_drops_stale_boards(
    board_store: ResultStore, tmp_path: Path, fake_record, capsys
) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "index.html").write_text("<html>my own page</html>")
    assert _write(board_store, foreign) == 2
    assert "was not written by" in capsys.readouterr().err
    assert (foreign / "index.html").read_text() == "<html>my own page</html>"
    site = tmp_path / "site"
    assert _write(board_store, site) == 0
    (site / "notes.html").write_text("<p>kept: not generated</p>")
    smaller = ResultStore(tmp_path / "smaller.sqlite")
    smaller.save_run(next(run for run in board_store.runs() if run.dataset == "demo"))
    assert _write(smaller, site) == 0
    assert sorted(path.name for path in site.iterdir()) == ["demo.html", "index.html", "notes.html"]
    assert _write(ResultStore(tmp_path / "empty.sqlite"), tmp_path / "other") == 2
    with pytest.raises(SystemExit) as stop:  # one call writes markdown boards or the site, not both
        main(["leaderboard", "--store", str(board_store.path), "--out", str(tmp_path / "md"), "--html", str(site)])
    assert stop.value.code == 2 and not (tmp_path / "md").exists()


def test_rows_from_different_data_versions_are_flagged(board_store: ResultStore, tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert _write(board_store, site) == 0
    assert "different data versions" not in (site / "ucf.html").read_text()
    other = next(run for run in board_store.runs() if run.method == "cjme")
    other.data_fingerprint = "f" * 64
    board_store.save_run(other)
    assert _write(board_store, site) == 0
    page = (site / "ucf.html").read_text()
    assert "computed from 2 different data versions" in page and f">{short_fingerprint('f' * 64)}<" in page


def test_provenance_of_runs_and_reference_numbers(fake_record, tmp_path: Path) -> None:
    record = fake_record("k")
    assert provenance(record) == TRAINED
    record.kind = "evaluation"
    record.config = {**record.config, "models": {"origin": "saved by avgzsl-bench"}}
    assert provenance(record) == EVALUATED_SAVED
    claims = {row.provenance for row in reference_rows(load_paper_reference(), "vggsound", "clip-clap")}
    assert claims == {PUBLISHED, CLAIM}
    assert reference_rows(load_paper_reference(), "ucf", "selavi")[0].values["hm"] == (27.15,)  # AVCA, Table 5
    text = PAPER_REFERENCE.read_text(encoding="utf-8").replace("[claims]\n", "[claims]\nno-such-id = 'x'\n")
    (tmp_path / "reference.toml").write_text(text, encoding="utf-8")
    with pytest.raises(BenchError, match=r"\[claims\] names unknown result id"):
        load_paper_reference(tmp_path / "reference.toml")


def test_nice_ticks() -> None:
    assert nice_ticks(0, 45) == [0, 10, 20, 30, 40] and nice_ceiling(45) == 50
    assert nice_ceiling(100) == 100 and nice_ticks(34.5, 49.2) == [30, 35, 40, 45]


# ---- the page in a real browser ------------------------------------------------------------------

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
BROWSER_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1800",
)
PAGE_TIMEOUT_S = 30


@pytest.fixture
def browser(tmp_path: Path, monkeypatch):
    """Headless Debian Chromium driven by chromedriver; quit whatever happens in the test."""
    webdriver = pytest.importorskip("selenium.webdriver")  # a missing shipped test dependency fails CI
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        reason = f"{', '.join(missing)} not installed: apt-get install chromium chromium-driver (.ci/run does)"
        if os.environ.get("AVGZSL_STRICT_SKIPS") == "1" or os.environ.get("CI") == "true":
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not look anything up
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)))
    try:
        driver.set_page_load_timeout(PAGE_TIMEOUT_S)
        driver.set_script_timeout(PAGE_TIMEOUT_S)
        yield driver
    finally:
        driver.quit()


def _column(driver, index: int, attribute: str = "") -> list[str]:
    cells = driver.find_elements("css selector", f"#board tbody tr td:nth-child({index + 1})")
    return [cell.get_attribute(attribute) if attribute else cell.text for cell in cells]


def _header(driver, name: str):
    return next(th for th in driver.find_elements("css selector", "#board thead th") if th.text.strip() == name)


def test_page_in_a_browser(board_store: ResultStore, tmp_path: Path, browser) -> None:
    from matplotlib.image import imread

    site = tmp_path / "site"
    assert _write(board_store, site) == 0
    browser.get((site / "ucf.html").resolve().as_uri())
    assert browser.title.startswith("Leaderboard: UCF")
    expected = _cells((site / "ucf.html").read_text(), 1)
    assert _column(browser, 1) == expected and expected[0] == "clipclap"
    assert len(browser.find_elements("css selector", "svg.chart")) == 3

    shot = tmp_path / "ucf.png"
    assert browser.save_screenshot(str(shot))
    pixels = imread(shot)
    assert shot.read_bytes().startswith(b"\x89PNG") and pixels.shape[0] > 100 and float(pixels.std()) > 0.01

    _header(browser, "HM").click()  # ascending, numerically: 9.6 before 10.6
    ascending = [float(key) for key in _column(browser, 8, "data-sort")]
    assert ascending == sorted(ascending) and _column(browser, 1)[0] == "cjme"
    assert _header(browser, "HM").get_attribute("aria-sort") == "ascending"
    _header(browser, "HM").click()  # again: reversed
    descending = [float(key) for key in _column(browser, 8, "data-sort")]
    assert descending == sorted(descending, reverse=True) and descending != ascending
    _header(browser, "HM 95% CI").click()  # rows without an interval stay last
    keys = _column(browser, 10, "data-sort")
    assert keys[-1] == "" and [float(key) for key in keys if key] == sorted(float(key) for key in keys if key)

    browser.get((site / "index.html").resolve().as_uri())
    assert {link.text for link in browser.find_elements("css selector", "#boards a")} >= {"UCF-GZSL^cls"}
