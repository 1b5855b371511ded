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
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

from domain.values import Language
from ledger.canonical import canonical_bytes
from projections.errors import InvalidQuery
from projections.models import ReportOut, RollupOut
from projections.quality import QUALITY_FLAGS
from projections.report_text import localized, word

ReportFormat = Literal["md", "csv", "json", "html"]
REPORT_FORMATS: tuple[ReportFormat, ...] = ("md", "csv", "json", "html")


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    name: str
    columns: tuple[str, ...]
    """The value columns' codes (CSV metrics); ``headers`` are their words in the language."""
    headers: tuple[str, ...]
    rows: tuple[tuple[str, str, tuple[str, ...]], ...]
    """(id, name, values) per row."""


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
INDICATOR_COLUMNS = (
    "measure",
    "pledges",
    "reported",
    "met_target",
    "baseline_total",
    "latest_total",
    "target_total",
)
PLEDGE_COLUMNS = ("network", "cities", "status", "stage", "outcome", "last_reported_on", "flags")
SILENT_COLUMNS = (
    "network",
    "cities",
    "status",
    "silent_since",
    "last_reported_on",
    "external_ids",
)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def percentage(share: str | None, lang: Language) -> str:
    """A share (``0.1234``) as a percentage to one place (``12.3%``; ``12,3 %`` in French and
    Spanish), as forums read them; no share (nothing to divide) stays empty."""
    if share is None:
        return ""
    value = (Decimal(share) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    text = f"{value:f}".removesuffix(".0")
    return f"{text}%" if lang == "en" else f"{text.replace('.', ',')} %"


def _rollup_values(rollup: RollupOut, lang: Language) -> tuple[str, ...]:
    s = rollup.by_status
    return (
        str(rollup.pledges),
        str(rollup.open),
        str(s["awaiting_validation"]),
        str(s["changes_requested"]),
        str(s["validated"]),
        str(s["withdrawn"]),
        str(s["closed"]),
        percentage(rollup.share_validated, lang),
        str(rollup.reported_within_window),
        percentage(rollup.share_reported_within_window, lang),
        str(rollup.silent),
    )


def _headers(columns: tuple[str, ...], lang: Language) -> tuple[str, ...]:
    return tuple(word(f"col_{c}", lang) for c in columns)


def report_sections(report: ReportOut) -> list[Section]:
    """The report's tables, in the order every format writes them, in its language."""
    lang = report.lang
    labels = report.labels

    def name(kind: str, key: str) -> str:
        return labels.get(kind, {}).get(key, "")

    def names(kind: str, keys: Sequence[str]) -> str:
        return ", ".join(name(kind, k) or k for k in keys)

    def rollup_section(name_: str, rollups: Sequence[RollupOut]) -> Section:
        return Section(
            word(f"section_{name_}", lang),
            name_,
            ROLLUP_COLUMNS,
            _headers(ROLLUP_COLUMNS, lang),
            tuple((r.key, name(r.dimension, r.key), _rollup_values(r, lang)) for r in rollups),
        )

    totals = (report.totals,) if report.totals is not None else ()
    sections = [
        Section(
            word("section_legend", lang),
            "legend",
            ("meaning",),
            _headers(("meaning",), lang),
            tuple((e.term, "", (e.text,)) for e in report.legend),
        ),
        Section(
            word("section_totals", lang),
            "totals",
            ROLLUP_COLUMNS,
            _headers(ROLLUP_COLUMNS, lang),
            tuple(("all", word("col_all", lang), _rollup_values(t, lang)) for t in totals),
        ),
        Section(
            word("section_stages", lang),
            "stages",
            ("pledges",),
            _headers(("pledges",), lang),
            tuple(
                (stage, name("stage", stage) or word("stage_none", lang), (str(count),))
                for t in totals
                for stage, count in t.by_stage.items()
            ),
        ),
        Section(
            word("section_outcomes", lang),
            "outcomes",
            ("pledges",),
            _headers(("pledges",), lang),
            tuple(
                (outcome, name("outcome", outcome), (str(count),))
                for outcome, count in report.outcomes.items()
            ),
        ),
    ]
    if report.framework != "gcr":
        sections.append(rollup_section("by_gcm_objective", report.by_gcm_objective))
    if report.framework != "gcm":
        sections.append(rollup_section("by_gcr_area", report.by_gcr_area))
    sections.append(rollup_section("by_network", report.by_network))
    sections.append(
        Section(
            word("section_quality_flags", lang),
            "quality_flags",
            ("pledges", "flagged", *QUALITY_FLAGS),
            (
                word("col_pledges", lang),
                word("col_flagged", lang),
                *(word(f"flag_{f}", lang) for f in QUALITY_FLAGS),
            ),
            tuple(
                (
                    c.network_id,
                    word("col_all", lang)
                    if c.network_id == "all"
                    else name("network", c.network_id),
                    (str(c.pledges), str(c.flagged), *(str(c.counts[f]) for f in QUALITY_FLAGS)),
                )
                for c in report.quality_flags
            ),
        )
    )
    sections.append(
        Section(
            word("section_indicator_progress", lang),
            "indicator_progress",
            INDICATOR_COLUMNS,
            _headers(INDICATOR_COLUMNS, lang),
            tuple(
                (
                    i.indicator_id,
                    "",
                    tuple(
                        _text(v)
                        for v in (
                            i.measure,
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
        )
    )
    sections.append(
        Section(
            word("section_silent_pledges", lang),
            "silent_pledges",
            SILENT_COLUMNS,
            _headers(SILENT_COLUMNS, lang),
            tuple(
                (
                    p.pledge_id,
                    localized(p.title, lang),
                    (
                        name("network", p.network_id) or p.network_id,
                        names("city", p.cities),
                        name("status", p.status),
                        p.silent_since.isoformat(),
                        _text(p.last_reported_on),
                        " ".join(p.external_ids),
                    ),
                )
                for p in report.silent_pledges
            ),
        )
    )
    sections.append(
        Section(
            word("section_pledges", lang),
            "pledges",
            PLEDGE_COLUMNS,
            _headers(PLEDGE_COLUMNS, lang),
            tuple(
                (
                    p.pledge_id,
                    p.title,
                    (
                        name("network", p.network_id) or p.network_id,
                        names("city", p.cities),
                        name("status", p.status),
                        name("stage", p.stage) if p.stage is not None else "",
                        name("outcome", p.outcome) if p.outcome is not None else "",
                        _text(p.last_reported_on),
                        names("flag", p.flags),
                    ),
                )
                for p in report.pledges
            ),
        )
    )
    return sections


def source_lines(report: ReportOut) -> list[str]:
    """What the report rests on, in words: tree size, day, freshness window, checkpoint, digest."""
    source, lang = report.source, report.lang
    lines = [
        word("source_entries", lang, tree_size=source.tree_size, as_of=report.as_of.isoformat()),
        word(
            "source_freshness",
            lang,
            months=report.freshness_months,
            cutoff=report.freshness_cutoff.isoformat(),
        ),
    ]
    if source.checkpoint is not None:
        lines.append(word("source_checkpoint", lang, size=source.checkpoint.tree_size))
    else:
        lines.append(word("source_no_checkpoint", lang))
    lines.append(word("source_digest", lang, sha256=report.sha256))
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
            out.append(markdown_text(word("none", report.lang)))
            continue
        header = (word("col_id", report.lang), word("col_name", report.lang), *section.headers)
        out.append("| " + " | ".join(markdown_text(h) for h in header) + " |")
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
    row("source", "", "", "framework", report.framework)
    row("source", "", "", "lang", report.lang)
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
        f'<html lang="{e(report.lang)}"><head><meta charset="utf-8">',
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
            out.append(f"<p>{e(word('none', report.lang))}</p>")
            continue
        out.append(
            f"<table><thead><tr><th>{e(word('col_id', report.lang))}</th>"
            f"<th>{e(word('col_name', report.lang))}</th>"
        )
        out.extend(f"<th>{e(c)}</th>" for c in section.headers)
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
