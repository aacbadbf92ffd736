"""The offline HTML leaderboard: `bench.py leaderboard --html DIR`.

A static site rendered from the same row model as the markdown boards (`reports.board`): an index
page and one page per dataset and feature set, each page self-contained (stylesheet, sorting
script and SVG figures inline; nothing is fetched), so it opens from the file system or any static
host. Pages carry a generator mark: a folder whose index.html lacks it is refused (the site never
overwrites a page it did not write), and pages of an earlier site for boards the store no longer
has are removed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import quote

from avgzsl_bench.errors import BenchError
from avgzsl_bench.reports.board import (
    CLAIM,
    EVALUATED_RELEASED,
    EVALUATED_SAVED,
    MISSING,
    PUBLISHED,
    Board,
    BoardRow,
    build_boards,
)
from avgzsl_bench.reports.data_version import (
    known_versions,
    mixes_versions,
    version_cell,
    version_legend,
    version_note,
)
from avgzsl_bench.reports.leaderboard import board_heading, board_notes
from avgzsl_bench.reports.paper import PaperReference, load_paper_reference
from avgzsl_bench.reports.site_assets import SCRIPT, STYLE
from avgzsl_bench.reports.site_figures import figures_html
from avgzsl_bench.reports.summary import METRIC_COLUMNS
from avgzsl_bench.store.frame import load_results
from avgzsl_bench.store.sqlite import ResultStore

GENERATOR = "avgzsl-bench leaderboard"
INDEX = "index.html"
BADGE = {EVALUATED_RELEASED: "evaluated", EVALUATED_SAVED: "evaluated", PUBLISHED: "published", CLAIM: "claim"}


def inline_markdown(text: str) -> str:
    """The board notes' little markdown (`code`, **bold**, *italic*) as escaped HTML."""
    html = escape(text)
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    html = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)
    return re.sub(r"\*([^*]+)\*", r"<em>\1</em>", html)


def page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="{GENERATOR}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head>\n<body>\n{body}\n<script>{SCRIPT}</script>\n</body></html>\n"
    )


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[BoardRow], str]  # the cell's HTML (escaped)
    key: Callable[[BoardRow], str] | None = None  # sort key ("" sorts last); None: the cell's text
    numeric: bool = False
    wrap: bool = False  # a long cell may break into lines


def _number_key(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _provenance(row: BoardRow) -> str:
    return f'<span class="badge {BADGE.get(row.provenance, "trained")}">{escape(row.provenance)}</span>'


def _sources(board: Board) -> list[str]:
    """The distinct sources of the reference rows, numbered in this order below the table."""
    return list(dict.fromkeys(row.source for row in board.references if row.source))


def _row_versions(row: BoardRow) -> list[str]:
    return known_versions(record.data_fingerprint for record in row.records)


def _data_cell(row: BoardRow) -> str:
    """The row's data version(s) as the markdown boards name them; the full hashes are the tooltip."""
    if not row.records:
        return MISSING  # a reference row is no run of this store
    full = ", ".join(_row_versions(row))
    text = escape(version_cell(row.records))
    return f'<code title="{escape(full)}">{text}</code>' if full else text


def _versus_key(row: BoardRow) -> str:
    if not row.ranked:
        return ""
    return _number_key(0.0 if row.comparison is None else row.comparison.difference)


def _metric_column(header: str, metric: str) -> Column:
    return Column(header, lambda row: escape(row.cell(metric)), lambda row: _number_key(row.mean(metric)), True)


COLUMNS = (
    Column("rank", lambda row: str(row.rank) if row.ranked else MISSING, lambda row: str(row.rank or ""), True),
    Column("method", lambda row: escape(row.method)),
    Column("settings", lambda row: escape(row.settings), wrap=True),
    Column("provenance", _provenance, lambda row: row.provenance),
    Column(
        "config", lambda row: f"<code>{escape(row.config)}</code>" if row.config else MISSING, lambda row: row.config
    ),
    Column(
        "seeds",
        lambda row: escape(", ".join(map(str, row.seeds))) or MISSING,
        lambda row: str(len(row.seeds) or ""),
        True,
    ),
    *(_metric_column(header, metric) for header, metric in METRIC_COLUMNS.items()),
    Column(
        "HM 95% CI",
        lambda row: escape(row.ci_cell),
        lambda row: _number_key(row.interval.low if row.interval else None),
        True,
    ),
    Column("HM vs best", lambda row: escape(row.versus_cell), _versus_key, numeric=True, wrap=True),
    Column("data", _data_cell, lambda row: ",".join(_row_versions(row))),
    Column("date", lambda row: escape(row.date) or MISSING, lambda row: row.date),
    Column("git", lambda row: escape(row.git) or MISSING, lambda row: row.git),
)


def _cell(column: Column, row: BoardRow, note: str = "") -> str:
    key = "" if column.key is None else f' data-sort="{escape(column.key(row))}"'
    classes = " ".join(name for name, on in (("num", column.numeric), ("wrap", column.wrap)) if on)
    css = f' class="{classes}"' if classes else ""
    return f"<td{css}{key}>{column.cell(row)}{note}</td>"


def _row(row: BoardRow, sources: Sequence[str]) -> str:
    """A table row; a reference row's provenance cell points at its numbered source."""
    cells = []
    for column in COLUMNS:
        note = ""
        if column.header == "provenance" and row.source:
            number = sources.index(row.source) + 1
            note = f' <sup title="{escape(row.source)}"><a href="#source-{number}">[{number}]</a></sup>'
        cells.append(_cell(column, row, note))
    return f'<tr class="{"ranked" if row.ranked else "reference"}">' + "".join(cells) + "</tr>"


def board_table(board: Board) -> str:
    """The sortable table: ranked rows by rank, then the reference rows by HM."""
    headers = "".join(
        f'<th scope="col" aria-sort="{"ascending" if index == 0 else "none"}">{escape(column.header)}</th>'
        for index, column in enumerate(COLUMNS)
    )
    sources = _sources(board)
    body = "\n".join(_row(row, sources) for row in (*board.rows, *board.references))
    head = f"<thead><tr>{headers}</tr></thead>"
    table = f'<table class="sortable board" id="board">\n{head}\n<tbody>\n{body}\n</tbody></table>'
    listed = "".join(f'<li id="source-{n}">{escape(source)}</li>' for n, source in enumerate(sources, start=1))
    notes = f'<p class="note">Sources of the grey rows:</p><ol class="sources">{listed}</ol>' if sources else ""
    return f'<div class="scroll">{table}</div>{notes}'


def _data_note(board: Board) -> str:
    """The markdown boards' note when rows mix data versions; else what the always-shown column means."""
    runs = [row.records for row in board.rows]
    if mixes_versions(runs):
        return f'<p class="note mixed">{inline_markdown(version_note(runs))}</p>'
    return f'<p class="note">{inline_markdown(version_legend())}</p>'


def _reference_note(board: Board) -> str:
    if not board.references:
        return ""
    return (
        '<p class="note">Grey rows are numbers from the reference file, not runs of this store: '
        "<em>published number</em> (a paper's table) or <em>unpublished claim</em> (e.g. a code README); "
        "they are not ranked or tested.</p>"
    )


def board_page(board: Board) -> str:
    notes = "\n".join(
        f'<p class="{"note synthetic" if note.startswith("**SYNTHETIC") else "note"}">{inline_markdown(note)}</p>'
        for note in board_notes(board)
    )
    body = "\n".join(
        [
            f'<p><a href="{INDEX}">← all leaderboards</a></p>',
            f"<h1>{escape(board_heading(board))}</h1>",
            notes,
            _data_note(board),
            _reference_note(board),
            board_table(board),
            figures_html(board),
        ]
    )
    return page(board_heading(board), body)


def _best(board: Board) -> str:
    if not board.rows:
        return MISSING
    row = board.rows[0]
    return f"{escape(row.method)} [{escape(row.settings)}]: HM {escape(row.cell('hm'))}"


def index_page(boards: Sequence[Board]) -> str:
    rows = []
    for board in boards:
        link = f'<a href="{quote(board.name)}.html">{escape(board.title)}</a>'
        runs = [record for row in board.rows for record in row.records]
        data = f"<code>{escape(version_cell(runs))}</code>" if runs else MISSING
        top = board.rows[0].mean("hm") if board.rows else None
        rows.append(
            f"<tr><td>{link}</td><td>{escape(board.features)}</td>"
            f'<td class="num">{len(board.rows)}</td><td class="num">{len(board.references)}</td>'
            f'<td data-sort="{_number_key(top)}">{_best(board)}</td><td>{data}</td>'
            f"<td>{'yes' if board.synthetic else 'no'}</td></tr>"
        )
    headers = ["leaderboard", "features", "configurations", "reference rows", "best", "data", "synthetic"]
    head = "".join(f'<th scope="col" aria-sort="none">{escape(name)}</th>' for name in headers)
    body = "\n".join(
        [
            "<h1>avgzsl-bench leaderboards</h1>",
            '<p class="note">One page per dataset and feature set: the test split of the two-stage GZSL protocol, '
            "ranked by mean HM over seeds, with 95% intervals, tests against the best row, where each row's "
            "numbers come from, and figures. Generated by <code>python bench.py leaderboard --html</code>.</p>",
            f'<table class="sortable" id="boards"><thead><tr>{head}</tr></thead><tbody>\n'
            + "\n".join(rows)
            + "\n</tbody></table>",
        ]
    )
    return page("avgzsl-bench leaderboards", body)


def _is_generated(path: Path) -> bool:
    try:
        return f'<meta name="generator" content="{GENERATOR}">' in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise BenchError(f"--html {out_dir} is a file; give a folder for the HTML leaderboard")
    index = out_dir / INDEX
    if index.exists() and not _is_generated(index):
        raise BenchError(
            f"{index} was not written by `bench.py leaderboard --html`; refusing to overwrite it. "
            "Give an empty or new folder to --html"
        )


def write_site(
    store: ResultStore, out_dir: str | Path, reference: PaperReference | None = None
) -> tuple[list[Path], list[Path]]:
    """Write `<out_dir>/index.html` and `<out_dir>/<board>.html` for every dataset and feature set
    with finished runs (the reference file's numbers join as unranked rows). Returns the pages
    written (index first) and the pages removed: boards of an earlier site this store lacks."""
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    runs = load_results(store)
    if runs.empty:
        raise BenchError(f"the results store {store.path} holds no finished runs yet; run some first")
    boards = build_boards(runs, load_paper_reference() if reference is None else reference)
    pages = {out_dir / INDEX: index_page(boards)}
    pages.update({out_dir / f"{board.name}.html": board_page(board) for board in boards})
    out_dir.mkdir(parents=True, exist_ok=True)
    # A page of an earlier site that this store has no board for would show stale numbers.
    stale = [path for path in sorted(set(out_dir.glob("*.html")) - set(pages)) if _is_generated(path)]
    for path in stale:
        path.unlink()
    for path, html in pages.items():
        path.write_text(html, encoding="utf-8")
    return list(pages), stale
