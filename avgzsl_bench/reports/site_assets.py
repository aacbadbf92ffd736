"""The HTML leaderboard's stylesheet and script, inlined into every page (nothing is fetched).

The script sorts a table with class "sortable" when a header is clicked (or focused and Enter
pressed): ascending first, reversed on the next click. A cell's `data-sort` attribute, when present,
is its sort key (the mean of "53.86 ± 3.73", the lower bound of an interval); a column whose keys
are all numbers sorts numerically; empty keys ("—") stay last in both directions.
"""

from __future__ import annotations

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1b1b1b; }
h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 17px; margin: 28px 0 6px; }
p.note { max-width: 70em; margin: 6px 0; color: #333; }
.synthetic { background: #fff3cd; border: 1px solid #e0b000; padding: 6px 10px; font-weight: 600; }
.mixed { background: #fde2e1; border: 1px solid #d62728; padding: 6px 10px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 10px 0; font-size: 13px; }
th, td { border: 1px solid #d0d0d0; padding: 3px 6px; text-align: left; vertical-align: top; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.wrap { white-space: normal; min-width: 8em; max-width: 16em; }
ol.sources { font-size: 12px; color: #444; margin-top: 0; }
th { background: #eef1f5; white-space: nowrap; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; }
tr.reference td { background: #f6f6f6; color: #444; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; white-space: nowrap; }
.badge.trained { background: #dff0d8; } .badge.evaluated { background: #d9edf7; }
.badge.published { background: #eee; } .badge.claim { background: #fcf0cf; }
code { font-size: 12px; }
figure { margin: 10px 0 24px; } figcaption { max-width: 70em; color: #333; margin-top: 4px; }
svg.chart { font-size: 11px; background: #fff; }
svg.chart .grid { stroke: #e4e4e4; } svg.chart .frame { fill: none; stroke: #999; }
svg.chart .line { fill: none; stroke-width: 2; } svg.chart .marker { stroke: #000; stroke-width: 1.2; }
svg.chart .unseen { fill: #f0f0f0; } svg.chart .mean { stroke-width: 3; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 11px; height: 11px; margin-right: 4px; vertical-align: -1px; }
"""

SCRIPT = """
(function () {
  function key(row, column) {
    var cell = row.cells[column];
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
  }
  function sortBy(table, column, header) {
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) {
      other.setAttribute("aria-sort", "none");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var numeric = rows.every(function (row) {
      var value = key(row, column);
      return value === "" || isFinite(Number(value));
    });
    rows.sort(function (a, b) {
      var x = key(a, column), y = key(b, column);
      if (x === "" || y === "") { return (x === "") - (y === ""); }
      var order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
      header.tabIndex = 0;
      header.title = "sort by this column (again: reverse)";
      header.addEventListener("click", function () { sortBy(table, column, header); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(table, column, header); }
      });
    });
  });
})();
"""
