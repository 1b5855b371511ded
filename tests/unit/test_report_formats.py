"""The report written for people: every format cites its source, and none lets user text run."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date

import orjson
import pytest

from api.report_formats import markdown_text, render_report, spreadsheet_safe
from domain.events import NetworkRegistered
from ledger.canonical import canonical_bytes
from projections.errors import InvalidQuery
from projections.models import CheckpointCitationOut, ReportOut
from projections.reports import report_from_entries
from tests.unit.test_projections_fold import Log
from tests.unit.test_projections_reports import AS_OF, entries, history

FORMULA = '=HYPERLINK("http://x")'
SCRIPT = "<script>alert(1)</script>"


def hostile_report() -> ReportOut:
    """A silent pledge titled with a script, in a network named with a spreadsheet formula."""
    log = Log().registry()
    log.add("network:hostile", NetworkRegistered(network_id="hostile", name={"en": FORMULA}))
    log.on(date(2024, 1, 1)).submit("hostile", network_id="hostile", title={"en": SCRIPT})
    return report_from_entries(entries(log), as_of=AS_OF, freshness_months=3)


def test_the_json_report_is_the_canonical_form_its_digest_covers() -> None:
    report = report_from_entries(entries(history()), as_of=AS_OF, freshness_months=3)

    body = orjson.loads(render_report(report, "json"))
    digest = body.pop("sha256")

    assert digest == report.sha256
    assert hashlib.sha256(canonical_bytes(body)).hexdigest() == digest
    again = report_from_entries(entries(history()), as_of=AS_OF, freshness_months=3)
    assert again.sha256 == digest
    other_window = report_from_entries(entries(history()), as_of=AS_OF, freshness_months=12)
    assert other_window.sha256 != digest


@pytest.mark.parametrize("report_format", ["md", "csv", "json", "html"])
def test_every_report_format_names_its_tree_size_checkpoint_and_digest(
    report_format: str,
) -> None:
    citation = CheckpointCitationOut(tree_size=40, note="test.log\n40\nroot=\n\n— test sig\n")
    report = report_from_entries(
        entries(history()), as_of=AS_OF, freshness_months=3, checkpoint=citation
    )

    text = render_report(report, report_format)

    assert report.sha256 in text
    assert str(report.source.tree_size) in text
    assert "40" in text
    if report_format == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        source = {r["metric"]: r["value"] for r in rows if r["section"] == "source"}
        assert source["tree_size"] == str(report.source.tree_size)
        assert source["checkpoint_tree_size"] == "40"


def test_an_unknown_report_format_is_refused_naming_the_option() -> None:
    report = report_from_entries(entries(history()), as_of=AS_OF, freshness_months=3)

    with pytest.raises(InvalidQuery, match="report formats") as refused:
        render_report(report, "pdf")
    assert refused.value.field == "format"


def test_csv_report_neutralises_a_formula_in_a_label() -> None:
    rows = list(csv.DictReader(io.StringIO(render_report(hostile_report(), "csv"))))

    labels = {r["label"] for r in rows if r["section"] == "by_network"}

    assert labels == {"'" + FORMULA}
    assert not any(cell.startswith("=") for row in rows for cell in row.values())


@pytest.mark.parametrize("cell", ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "-"])
def test_a_cell_a_spreadsheet_would_evaluate_gets_a_leading_quote(cell: str) -> None:
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-3.25", "-1200", "0.5", "12", "2024-06-30", "Rabat", ""])
def test_numbers_dates_and_plain_text_stay_as_they_are_in_csv(cell: str) -> None:
    assert spreadsheet_safe(cell) == cell


def test_markdown_report_writes_a_script_title_as_text() -> None:
    text = render_report(hostile_report(), "md")

    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


@pytest.mark.parametrize(
    ("user_text", "markdown"),
    [
        ("[click](http://x)", r"\[click\](http://x)"),
        ("![img](http://x)", r"\!\[img\](http://x)"),
        ("a | b", r"a \| b"),
        ("*bold* _em_ ~~gone~~ `code`", r"\*bold\* \_em\_ \~\~gone\~\~ \`code\`"),
        ("<b>&amp;</b>", "&lt;b&gt;&amp;amp;&lt;/b&gt;"),
        ("line\nbreak", "line break"),
    ],
)
def test_markdown_escapes_html_and_inline_markup_in_user_text(
    user_text: str, markdown: str
) -> None:
    assert markdown_text(user_text) == markdown


def test_html_report_writes_a_script_title_and_a_formula_label_as_text() -> None:
    text = render_report(hostile_report(), "html")

    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "=HYPERLINK(&quot;http://x&quot;)" in text
