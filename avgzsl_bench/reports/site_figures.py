"""The figures of a leaderboard page, from the runs behind its top rows: validation HM against the
calibration β, per-class test recall, and the HM of every seed (inline SVG from `reports.svg`)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

from avgzsl_bench.reports.board import Board, BoardRow
from avgzsl_bench.reports.svg import ClassSeries, Curve, Strip, class_chart, colour, line_chart, strip_chart

CURVE_ROWS = 5  # HM-vs-β curves of the best five configurations
CLASS_ROWS = 3  # per-class recall of the best three (more dots per class stop being readable)
SPREAD_ROWS = 25  # seed spread of the first 25 ranked rows


def row_label(row: BoardRow) -> str:
    return f"#{row.rank} {row.method} [{row.settings}]"


def _legend(labels: Sequence[str]) -> str:
    items = "".join(
        f'<span><i style="background:{colour(i)}"></i>{escape(label)}</span>' for i, label in enumerate(labels)
    )
    return f'<div class="legend">{items}</div>'


def _figure(title: str, svg: str, labels: Sequence[str], caption: str) -> str:
    legend = _legend(labels) if labels else ""
    return f"<h2>{escape(title)}</h2>\n<figure>{svg}{legend}<figcaption>{escape(caption)}</figcaption></figure>"


def mean_curve(row: BoardRow) -> Curve | None:
    """The configuration's validation HM against β, averaged over the seeds that share one β grid."""
    curves = [np.asarray(record.val_hm_vs_beta, dtype=float) for record in row.records if record.val_hm_vs_beta]
    if not curves or curves[0].ndim != 2:
        return None
    betas = curves[0][:, 0]
    hm = np.mean([curve[:, 1] for curve in curves if np.array_equal(curve[:, 0], betas)], axis=0)
    chosen = float(np.mean([record.beta for record in row.records]))
    return Curve(row_label(row), list(zip(betas.tolist(), hm.tolist())), chosen)


def mean_recall(row: BoardRow) -> dict[str, float]:
    """Test recall per class averaged over the seeds (classes every seed recorded)."""
    recalls = [record.per_class for record in row.records if record.per_class]
    if not recalls:
        return {}
    shared = set(recalls[0]).intersection(*recalls[1:])
    return {name: float(np.mean([recall[name] for recall in recalls])) for name in shared}


def hm_vs_beta(board: Board) -> str:
    curves = [curve for curve in map(mean_curve, board.rows[:CURVE_ROWS]) if curve is not None]
    if not curves:
        return '<h2>HM vs calibration β</h2><p class="note">No stored run of this board has an HM-vs-β curve.</p>'
    svg = line_chart(curves, "calibration β", "validation HM (%)", "validation HM against calibration β")
    caption = (
        f"Validation HM against the calibration β (added to the distances of seen classes) at the best "
        f"stage-1 epoch, mean over seeds, for the top {len(curves)} configurations; the ringed dot marks "
        "the β used on the test split (mean of the seeds' choices)."
    )
    return _figure("HM vs calibration β", svg, [curve.label for curve in curves], caption)


def class_order(series: Sequence[ClassSeries], unseen: set[str]) -> list[str]:
    """Unseen classes first, then seen ones, each by the first series' recall, best first."""
    first = series[0].recall
    names = sorted({name for one in series for name in one.recall})
    return sorted(names, key=lambda name: (name not in unseen, -first.get(name, -1.0), name))


def per_class(board: Board) -> str:
    rows = [row for row in board.rows[:CLASS_ROWS] if mean_recall(row)]
    if not rows:
        return '<h2>Per-class recall</h2><p class="note">No stored run of this board has per-class recall.</p>'
    series = [ClassSeries(row_label(row), mean_recall(row)) for row in rows]
    unseen = set(rows[0].records[0].unseen_classes)
    classes = class_order(series, unseen)
    svg = class_chart(series, classes, unseen, "per-class test recall of the top configurations")
    caption = (
        f"Test recall of each class (mean over seeds) for the top {len(series)} configurations; unseen classes "
        "first (shaded), then seen ones, each ordered by the best configuration's recall. Hover a dot for the class."
    )
    if not unseen:
        caption += " The runs did not record which classes are unseen: nothing is shaded."
    return _figure("Per-class recall", svg, [one.label for one in series], caption)


def seed_spread(board: Board) -> str:
    rows = board.rows[:SPREAD_ROWS]
    strips = [
        Strip(row_label(row), [(f"seed {record.seed}", float(record.hm)) for record in row.records]) for row in rows
    ]
    svg = strip_chart(strips, "test HM (%)", "test HM of every seed")
    caption = (
        "Test HM of every seed (dots) and their mean (bar), one line per configuration in rank order"
        + (f" (the first {SPREAD_ROWS})" if len(board.rows) > SPREAD_ROWS else "")
        + ": how far apart the seeds of a row are, next to the gaps between rows."
    )
    return _figure("Seed spread", svg, [], caption)


def figures_html(board: Board) -> str:
    if not board.rows:
        return ""
    return "\n".join([hm_vs_beta(board), per_class(board), seed_spread(board)])
