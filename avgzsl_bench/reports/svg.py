"""Tiny inline-SVG charts for the HTML leaderboard: lines, dot strips and their axes.

Written by hand rather than with matplotlib: a few kilobytes of text per chart, no fonts or
backend to embed, the same bytes on every machine, and every point carries a tooltip (`<title>`).
Every text is escaped. Colours cycle through `PALETTE`; the caller builds the legend from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Ten distinguishable colours (the usual categorical palette).
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering [low, high]."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(factor * magnitude for factor in (1, 2, 2.5, 5, 10) if factor * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def nice_ceiling(value: float) -> float:
    """The smallest round tick value at or above `value` (a chart's top)."""
    ticks = nice_ticks(0.0, value)
    step = ticks[1] - ticks[0]
    return ticks[-1] if ticks[-1] >= value else ticks[-1] + step


@dataclass(frozen=True)
class Axes:
    """A plotting area: data ranges mapped onto a `width` × `height` pixel box with margins."""

    x_range: tuple[float, float]
    y_range: tuple[float, float]
    width: int = 640
    height: int = 300
    left: int = 56
    right: int = 16
    top: int = 12
    bottom: int = 44

    def px(self, x: float) -> float:
        low, high = self.x_range
        span = (high - low) or 1.0
        return self.left + (x - low) / span * (self.width - self.left - self.right)

    def py(self, y: float) -> float:
        low, high = self.y_range
        span = (high - low) or 1.0
        return self.height - self.bottom - (y - low) / span * (self.height - self.top - self.bottom)

    def frame(
        self,
        x_label: str,
        y_label: str,
        x_ticks: Sequence[float] | None = None,
        y_ticks: Sequence[float] | None = None,
    ) -> list[str]:
        """Grid, tick labels and axis titles (round ticks unless given)."""
        parts = []
        bottom, right = self.height - self.bottom, self.width - self.right
        for tick in nice_ticks(*self.y_range) if y_ticks is None else y_ticks:
            if self.y_range[0] <= tick <= self.y_range[1]:
                y = self.py(tick)
                parts.append(f'<line class="grid" x1="{self.left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>')
                parts.append(f'<text x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(tick)}</text>')
        for tick in nice_ticks(*self.x_range) if x_ticks is None else x_ticks:
            if self.x_range[0] <= tick <= self.x_range[1]:
                x = self.px(tick)
                parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{self.top}" y2="{bottom}"/>')
                parts.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{_number(tick)}</text>')
        parts.append(
            f'<rect class="frame" x="{self.left}" y="{self.top}" width="{right - self.left}" '
            f'height="{bottom - self.top}"/>'
        )
        centre = (self.left + right) / 2
        parts.append(f'<text x="{centre:.1f}" y="{self.height - 6}" text-anchor="middle">{escape(x_label)}</text>')
        middle = (self.top + bottom) / 2
        parts.append(
            f'<text transform="translate(14 {middle:.1f}) rotate(-90)" text-anchor="middle">{escape(y_label)}</text>'
        )
        return parts

    def svg(self, parts: Sequence[str], label: str) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{escape(label)}" '
            f'viewBox="0 0 {self.width} {self.height}" width="{self.width}" height="{self.height}">'
            f"<title>{escape(label)}</title>" + "".join(parts) + "</svg>"
        )


def _dot(x: float, y: float, fill: str, tip: str, radius: float = 3.5, extra: str = "") -> str:
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{fill}"{extra}><title>{escape(tip)}</title></circle>'


@dataclass(frozen=True)
class Curve:
    label: str
    points: Sequence[tuple[float, float]]  # (x, y), ascending x
    marker: float | None = None  # an x to mark on the curve (the chosen β)


def _interpolate(points: Sequence[tuple[float, float]], x: float) -> float:
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[0][1] if x < points[0][0] else points[-1][1]


def line_chart(curves: Sequence[Curve], x_label: str, y_label: str, label: str) -> str:
    """One line per curve; a ringed dot where its `marker` lies on it."""
    xs = [x for curve in curves for x, _ in curve.points]
    ys = [y for curve in curves for _, y in curve.points]
    axes = Axes((min(xs), max(xs)), (0.0, nice_ceiling(max(max(ys), 1.0))))
    parts = axes.frame(x_label, y_label)
    for index, curve in enumerate(curves):
        path = " ".join(f"{axes.px(x):.1f},{axes.py(y):.1f}" for x, y in curve.points)
        parts.append(
            f'<polyline class="line" points="{path}" stroke="{colour(index)}"><title>'
            f"{escape(curve.label)}</title></polyline>"
        )
        if curve.marker is not None:
            y = _interpolate(curve.points, curve.marker)
            tip = f"{curve.label}: chosen {x_label.split(' ')[-1]} {curve.marker:.3f}, {y_label} {y:.2f}"
            parts.append(_dot(axes.px(curve.marker), axes.py(y), colour(index), tip, 5, ' class="marker"'))
    return axes.svg(parts, label)


@dataclass(frozen=True)
class ClassSeries:
    label: str
    recall: dict[str, float]  # class name -> recall in percent


def class_chart(series: Sequence[ClassSeries], classes: Sequence[str], unseen: set[str], label: str) -> str:
    """Recall of every class (x: classes in the given order; unseen ones shaded), one dot colour
    per series."""
    axes = Axes((-0.5, len(classes) - 0.5), (0.0, 100.0), width=max(640, min(1800, 8 * len(classes) + 80)))
    band_width, band_height = axes.px(1) - axes.px(0), axes.height - axes.top - axes.bottom
    parts = [
        f'<rect class="unseen" x="{axes.px(index - 0.5):.1f}" y="{axes.top}" width="{band_width:.1f}" '
        f'height="{band_height}"/>'
        for index, name in enumerate(classes)
        if name in unseen
    ]
    parts += axes.frame(f"test classes ({len(classes)}; shaded: unseen)", "recall (%)", x_ticks=[])
    for index, one in enumerate(series):
        for position, name in enumerate(classes):
            if name in one.recall:
                value = one.recall[name]
                kind = "unseen" if name in unseen else "seen"
                tip = f"{one.label}: {name} ({kind}) {value:.2f}%"
                parts.append(_dot(axes.px(position), axes.py(value), colour(index), tip, 3))
    return axes.svg(parts, label)


@dataclass(frozen=True)
class Strip:
    label: str
    values: Sequence[tuple[str, float]]  # (what the value is, e.g. 'seed 42', value)


def strip_chart(strips: Sequence[Strip], x_label: str, label: str) -> str:
    """One horizontal strip per entry: a dot per value and a tick at their mean."""
    values = [value for strip in strips for _, value in strip.values]
    low, high = min(values), max(values)
    pad = max((high - low) * 0.08, 0.5)
    height = 56 + 22 * len(strips)
    axes = Axes((low - pad, high + pad), (-0.5, len(strips) - 0.5), height=height, left=200)
    parts = axes.frame(x_label, "", y_ticks=[])  # the rows are labelled instead
    for row, strip in enumerate(strips):
        y = axes.py(len(strips) - 1 - row)
        parts.append(
            f'<text x="{axes.left - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(_short(strip.label))}'
            f"<title>{escape(strip.label)}</title></text>"
        )
        mean = sum(value for _, value in strip.values) / len(strip.values)
        parts.append(
            f'<line class="mean" x1="{axes.px(mean):.1f}" x2="{axes.px(mean):.1f}" y1="{y - 8:.1f}" '
            f'y2="{y + 8:.1f}" stroke="{colour(row)}"><title>{escape(strip.label)}: mean {mean:.2f}</title></line>'
        )
        for name, value in strip.values:
            parts.append(
                _dot(axes.px(value), y, colour(row), f"{strip.label}, {name}: {value:.2f}", 4, ' opacity="0.8"')
            )
    return axes.svg(parts, label)


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
