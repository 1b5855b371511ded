"""How an accountability report is written for people: Markdown, CSV, HTML (and its JSON).

``projections.reports`` builds the ``ReportOut`` data; this module only presents it, with English
labels. Every text in a report can come from a submitter (pledge titles, network names), so
each format neutralises what its readers would otherwise execute:

- Markdown escapes HTML (``<script>`` reaches a renderer as text) and the inline Markdown
  characters that would make links, images or emphasis out of user text;
- CSV prefixes with ``'`` every cell that a spreadsheet would read as a formula (one that starts
  with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return), except a cell that is a plain
  decimal number such as ``-3.25``: a spreadsheet reads that as the number it is, it cannot run
  anything, and prefixing it would turn reported figures into text;
- HTML escapes every text it writes.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from ledger.canonical import canonical_bytes
from projections.errors import InvalidQuery
from projections.models import ReportOut, RollupOut

ReportFormat = Literal["md", "csv", "json", "html"]
REPORT_FORMATS: tuple[ReportFormat, ...] = ("md", "csv", "json", "html")


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, str, tuple[str, ...]], ...]
    """(key, label, values) per row."""


ROLLUP_COLUMNS = (
    "pledges",
    "open",
    "awaiting_validation",
    "changes_requested",
    "validated",
    "withdrawn",
    "closed",
    "share_validated",
    "reported_within_window",
    "share_reported_within_window",
    "silent",
)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _rollup_values(rollup: RollupOut) -> tuple[str, ...]:
    s = rollup.by_status
    return tuple(
        _text(v)
        for v in (
            rollup.pledges,
            rollup.open,
            s["awaiting_validation"],
            s["changes_requested"],
            s["validated"],
            s["withdrawn"],
            s["closed"],
            rollup.share_validated,
            rollup.reported_within_window,
            rollup.share_reported_within_window,
            rollup.silent,
        )
    )


def report_sections(report: ReportOut) -> list[Section]:
    """The report's tables, in the order every format writes them."""

    def rollup_section(title: str, name: str, rollups: Sequence[RollupOut]) -> Section:
        labels = report.labels.get(rollups[0].dimension, {}) if rollups else {}
        return Section(
            title,
            name,
            ROLLUP_COLUMNS,
            tuple((r.key, labels.get(r.key, ""), _rollup_values(r)) for r in rollups),
        )

    totals = (report.totals,) if report.totals is not None else ()
    stage_columns = tuple(report.totals.by_stage) if report.totals is not None else ()
    return [
        rollup_section("Totals", "totals", totals),
        Section(
            "Implementation stage",
            "stages",
            stage_columns,
            tuple(("all", "", tuple(str(n) for n in t.by_stage.values())) for t in totals),
        ),
        rollup_section("By GCM objective", "by_gcm_objective", report.by_gcm_objective),
        rollup_section("By GCR area", "by_gcr_area", report.by_gcr_area),
        rollup_section("By network", "by_network", report.by_network),
        Section(
            "Indicator progress",
            "indicator_progress",
            ("pledges", "reported", "met_target", "baseline_total", "latest_total", "target_total"),
            tuple(
                (
                    i.indicator_id,
                    i.measure,
                    tuple(
                        _text(v)
                        for v in (
                            i.pledges,
                            i.reported,
                            i.met_target,
                            i.baseline_total,
                            i.latest_total,
                            i.target_total,
                        )
                    ),
                )
                for i in report.indicator_progress
            ),
        ),
        Section(
            "Silent pledges",
            "silent_pledges",
            ("network_id", "cities", "status", "silent_since", "last_reported_on", "external_ids"),
            tuple(
                (
                    p.pledge_id,
                    p.title.get("en") or next(iter(p.title.values()), ""),
                    (
                        p.network_id,
                        " ".join(p.cities),
                        p.status,
                        p.silent_since.isoformat(),
                        _text(p.last_reported_on),
                        " ".join(p.external_ids),
                    ),
                )
                for p in report.silent_pledges
            ),
        ),
    ]


def source_lines(report: ReportOut) -> list[str]:
    """What the report rests on, in words: tree size, day, freshness window, checkpoint, digest."""
    source = report.source
    lines = [
        f"Computed from the first {source.tree_size} entries of the transparency log "
        f"(tree size {source.tree_size}), events recorded by the end of "
        f"{report.as_of.isoformat()} (UTC).",
        f"Freshness window: {report.freshness_months} months "
        f"(silent: no report since {report.freshness_cutoff.isoformat()}).",
    ]
    if source.checkpoint is not None:
        lines.append(f"Signed checkpoint covering it: tree size {source.checkpoint.tree_size}.")
    else:
        lines.append("No signed checkpoint covers these entries yet.")
    lines.append(f"SHA-256 of the report's canonical JSON form: {report.sha256}")
    return lines


# --- Markdown -------------------------------------------------------------------------------------

# Inline Markdown: escapes, code, emphasis, strike-through, links and images, table cells.
# (``#``, ``+``, ``-`` and ``>`` only act at the start of a line; no user text starts one.)
_MARKDOWN_INLINE = re.compile(r"([\\`*_~\[\]!|])")


def markdown_text(value: str) -> str:
    """User text as Markdown that renders as the same text: no HTML, links or emphasis."""
    escaped = html.escape(value.replace("\r", " ").replace("\n", " "), quote=False)
    return _MARKDOWN_INLINE.sub(r"\\\1", escaped)


def render_markdown(report: ReportOut) -> str:
    out = [f"# {markdown_text(report.title)}", ""]
    out.extend(f"{markdown_text(line)}  " for line in source_lines(report))
    if report.source.checkpoint is not None:
        out.extend(["", "```", report.source.checkpoint.note.rstrip("\n"), "```"])
    for section in report_sections(report):
        out.extend(["", f"## {section.title}", ""])
        if not section.rows:
            out.append("None.")
            continue
        header = ("key", "label", *section.columns)
        out.append("| " + " | ".join(header) + " |")  # our own column names
        out.append("|" + "---|" * len(header))
        for key, label, values in section.rows:
            cells = (key, label, *values)
            out.append("| " + " | ".join(markdown_text(c) for c in cells) + " |")
    return "\n".join(out) + "\n"


# --- CSV ------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_DECIMAL_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?\Z")


def spreadsheet_safe(cell: str) -> str:
    """``cell`` as no spreadsheet will evaluate it: a leading ``'`` before a formula's start.

    A plain decimal number (``-3.25``) stays as it is: it evaluates to itself.
    """
    if cell.startswith(_FORMULA_START) and not _DECIMAL_NUMBER.match(cell):
        return "'" + cell
    return cell


def render_csv(report: ReportOut) -> str:
    """One row per figure: section, key, label, metric, value (the source comes first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def row(*cells: str) -> None:
        writer.writerow(tuple(spreadsheet_safe(c) for c in cells))

    row("section", "key", "label", "metric", "value")
    source = report.source
    row("source", "", "", "as_of", report.as_of.isoformat())
    row("source", "", "", "network_id", _text(report.network_id))
    row("source", "", "", "tree_size", str(source.tree_size))
    checkpoint_size = source.checkpoint.tree_size if source.checkpoint else None
    row("source", "", "", "checkpoint_tree_size", _text(checkpoint_size))
    row("source", "", "", "freshness_months", str(report.freshness_months))
    row("source", "", "", "sha256", report.sha256)
    for section in report_sections(report):
        for key, label, values in section.rows:
            for column, value in zip(section.columns, values, strict=True):
                row(section.name, key, label, column, value)
    return buffer.getvalue()


# --- JSON and HTML --------------------------------------------------------------------------------


def render_json(report: ReportOut) -> str:
    """The report's canonical JSON (RFC 8785), its digest included: the digested form itself."""
    return canonical_bytes(report.model_dump(mode="json")).decode()


def render_html(report: ReportOut) -> str:
    """A standalone page with inline CSS; every text it writes is HTML-escaped."""
    e = html.escape
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(report.title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:75rem}"
        "table{border-collapse:collapse;margin:.5rem 0 1.5rem}"
        "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}"
        "td.n{text-align:right}pre{background:#f4f4f4;padding:.5rem}</style>",
        "</head><body>",
        f"<h1>{e(report.title)}</h1>",
    ]
    out.extend(f"<p>{e(line)}</p>" for line in source_lines(report))
    if report.source.checkpoint is not None:
        out.append(f"<pre>{e(report.source.checkpoint.note)}</pre>")
    for section in report_sections(report):
        out.append(f'<h2 id="{e(section.name)}">{e(section.title)}</h2>')
        if not section.rows:
            out.append("<p>None.</p>")
            continue
        out.append("<table><thead><tr><th>key</th><th>label</th>")
        out.extend(f"<th>{e(c)}</th>" for c in section.columns)
        out.append("</tr></thead><tbody>")
        for key, label, values in section.rows:
            out.append(f"<tr><td>{e(key)}</td><td>{e(label)}</td>")
            out.extend(f'<td class="n">{e(v)}</td>' for v in values)
            out.append("</tr>")
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


RENDERERS: dict[str, Callable[[ReportOut], str]] = {
    "md": render_markdown,
    "csv": render_csv,
    "json": render_json,
    "html": render_html,
}


def render_report(report: ReportOut, report_format: str) -> str:
    """The report written in ``report_format`` (one of ``REPORT_FORMATS``)."""
    renderer = RENDERERS.get(report_format)
    if renderer is None:
        raise InvalidQuery(f"report formats: {', '.join(REPORT_FORMATS)}", field="format")
    return renderer(report)
