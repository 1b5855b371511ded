"""The public pages over HTTP (in process): every page answers HTML built from the read models,
escapes what submitters wrote, carries its security headers, speaks en/fr/es, refuses bad input
with a page naming the field, and passes the accessibility check."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import Services
from api.pages.routes import CONTENT_SECURITY_POLICY
from api.report_formats import render_report
from domain.principal import Principal
from ledger.clock import SteppingClock
from ledger.reference_seed import register_reference_seed
from projections import build_report
from projections.report_text import word
from tests.e2e.accessibility import accessibility_problems
from tests.integration.ledger_scenario import (
    ADMIN,
    METROPOLIS,
    UCLG,
    VALIDATOR,
    issue_keys,
    register_basics,
    submit_pledge,
)

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


def html_of(client: TestClient, path: str, **kwargs: Any) -> str:
    response = client.get(path, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    text: str = response.text
    return text


def text_of(html: str) -> str:
    """The page's text as a reader sees it (tags dropped, entities decoded, spaces joined)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def amend(services: Services, pledge_id: str, changes: dict[str, Any], reason: str) -> None:
    with services.ledger.batch() as batch:
        batch.execute(
            "amend_pledge", UCLG, {"changes": changes, "reason": reason}, target=pledge_id
        )


def full_history(services: Services, clock: SteppingClock) -> str:
    """A pledge with a submission, a validation, an amendment, a report and an erratum, on
    days far enough apart for as-of pages."""
    register_basics(services)
    clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    pledge_id = submit_pledge(services)
    clock.set(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))
    with services.ledger.batch() as batch:
        batch.execute(
            "validate_pledge",
            VALIDATOR,
            {"decision": "validated", "criteria": ["specific", "measurable"]},
            target=pledge_id,
        )
    clock.set(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    amend(
        services,
        pledge_id,
        {"title": {"en": "Welcome centre and legal desk"}},
        "Scope widened after consultation",
    )
    clock.set(datetime(2026, 3, 20, 9, 0, tzinfo=UTC))
    with services.ledger.batch() as batch:
        result = batch.execute(
            "report_progress",
            UCLG,
            {
                "period": {"start": "2026-01-01", "end": "2026-03-15"},
                "stage": "in_progress",
                "observations": [
                    {"indicator_id": "people-served", "value": "1200", "date": "2026-03-15"}
                ],
                "narrative": {"en": "Centre opened.", "fr": "Le centre a ouvert."},
                "evidence": [],
            },
            target=pledge_id,
        )
        reported = result.events[-1].event_id
    clock.set(datetime(2026, 3, 25, 9, 0, tzinfo=UTC))
    with services.ledger.batch() as batch:
        batch.execute(
            "record_erratum",
            UCLG,
            {"corrects_event_id": reported, "note": "The count included staff"},
            target=pledge_id,
        )
    clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    return pledge_id


def timeline_ids(client: TestClient, pledge_id: str) -> list[str]:
    events = client.get(f"/api/v1/pledges/{pledge_id}/timeline").json()["events"]
    return [e["event_id"] for e in events]


# --- every page --------------------------------------------------------------------------------


def every_page(services: Services, clock: SteppingClock) -> list[str]:
    pledge_id = full_history(services, clock)
    return [
        "/",
        "/pledges",
        "/pledges?status=validated&sort=updated",
        f"/pledges/{pledge_id}",
        f"/pledges/{pledge_id}?as_of=2026-03-06",
        "/networks/uclg",
        "/cities/ma-marrakech",
        "/reports",
        "/reports?as_of=2026-03-31&network=uclg",
        "/audit",
        "/audit?from=2&to=10",
    ]


def test_every_page_answers_html_with_its_security_headers(
    services: Services, clock: SteppingClock, client: TestClient
) -> None:
    for path in every_page(services, clock):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert "script-src" not in CONTENT_SECURITY_POLICY  # default-src 'none' forbids all
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "Accept-Language" in response.headers["vary"]
        assert "<script" not in response.text, path


@pytest.mark.parametrize("lang", ["en", "fr", "es"])
def test_every_page_passes_the_accessibility_check_in_each_language(
    services: Services, clock: SteppingClock, client: TestClient, lang: str
) -> None:
    for path in every_page(services, clock):
        html = html_of(client, path, params={"lang": lang})
        assert f'<html lang="{lang}">' in html
        assert accessibility_problems(html) == [], path


def test_the_accessibility_check_catches_what_it_promises() -> None:
    page = (
        '<html><head><title>x</title></head><body><header></header><nav aria-label="m"></nav>'
        "<main><h1>a</h1><h3>skipped</h3><input name=q><svg></svg>"
        '<table><tr><td>1</td></tr></table><img src="a.png"></main><footer></footer></body></html>'
    )
    problems = accessibility_problems(page)
    assert "the <html> element has no lang" in problems
    assert "heading h3 follows h1: a level is skipped" in problems
    assert "<input name='q'> has no label" in problems
    assert "an <svg> chart is not role=img with a name" in problems
    assert "an <svg> chart is not described by a table of its figures" in problems
    assert "a <table> has no caption" in problems
    assert "<img src='a.png'> has no alt" in problems


def test_the_stylesheet_is_served_from_this_origin(client: TestClient) -> None:
    response = client.get("/static/pages.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")


# --- escaping ----------------------------------------------------------------------------------


def test_a_pledge_titled_with_a_script_renders_as_text_everywhere(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(
        services,
        title={"en": HOSTILE},
        description={"en": f'Quote " and {HOSTILE} in a description'},
    )
    for path in ("/pledges", f"/pledges/{pledge_id}", "/networks/uclg", "/"):
        html = html_of(client, path)
        assert "<script>" not in html, path
        assert "<script" not in html.lower(), path
    page = html_of(client, f"/pledges/{pledge_id}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert HOSTILE in text_of(page)


def test_a_hostile_query_is_escaped_in_the_form_that_echoes_it(client: TestClient) -> None:
    html = html_of(client, "/pledges", params={"q": '"><script>alert(1)</script>'})
    assert "<script>" not in html
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html


# --- languages ---------------------------------------------------------------------------------


def test_lang_in_the_query_chooses_the_language_and_a_cookie_remembers_it(
    client: TestClient,
) -> None:
    french = client.get("/", params={"lang": "fr"})
    assert french.status_code == 200
    assert "Vue d'ensemble" in unescape(french.text)
    assert "lang=fr" in french.headers["set-cookie"]
    remembered = client.get("/")  # the client sends the cookie back
    assert '<html lang="fr">' in remembered.text
    assert "set-cookie" not in remembered.headers


def test_accept_language_chooses_when_nothing_else_does(client: TestClient) -> None:
    html = html_of(client, "/", headers={"accept-language": "de-DE, es;q=0.8, fr;q=0.5"})
    assert '<html lang="es">' in html
    assert "Resumen" in html
    html = html_of(client, "/", headers={"accept-language": "de, ja"})
    assert '<html lang="en">' in html


def test_an_unknown_language_is_refused_naming_the_field(client: TestClient) -> None:
    response = client.get("/", params={"lang": "xx"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert 'data-field="lang"' in response.text


def test_a_text_the_ledger_lacks_in_the_readers_language_is_marked_as_the_original(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services, title={"en": "Welcome centre", "fr": "Centre d'accueil"})
    french = html_of(client, f"/pledges/{pledge_id}", params={"lang": "fr"})
    assert "Centre d&#39;accueil" in french
    assert "original en" not in french.split("</h1>")[0]
    spanish = html_of(client, f"/pledges/{pledge_id}", params={"lang": "es"})
    heading = spanish.split("</h1>")[0]
    assert '<span lang="en">Welcome centre</span>' in heading
    assert "original en English" in heading


# --- the pledge list ---------------------------------------------------------------------------


def listed_on_page(html: str) -> list[str]:
    return re.findall(r'<a href="/pledges/([0-9a-f-]{36})" class="pledge-link">', html)


def test_a_filter_of_the_list_keeps_only_matching_pledges_and_its_address_is_shareable(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    marrakech = submit_pledge(services)
    with services.ledger.batch() as batch:
        dakar = batch.execute(
            "submit_pledge",
            METROPOLIS,
            {
                "network_id": "metropolis",
                "cities": ["sn-dakar"],
                "title": {"en": "Legal aid desk"},
                "description": {"en": "Free legal counselling."},
                "gcm_objectives": [4],
                "starts_on": "2026-01-01",
                "ends_on": "2027-12-31",
            },
        ).pledge_id
    assert dakar is not None
    # Empty fields of a submitted form are no filter.
    both = html_of(client, "/pledges?q=&network=&status=&gcm_objective=&country=")
    assert sorted(listed_on_page(both)) == sorted([marrakech, dakar])
    assert listed_on_page(html_of(client, "/pledges?network=metropolis")) == [dakar]
    assert listed_on_page(html_of(client, "/pledges?country=ma")) == [marrakech]
    assert listed_on_page(html_of(client, "/pledges?gcm_objective=4")) == [dakar]
    assert listed_on_page(html_of(client, "/pledges?q=LEGAL")) == [dakar]
    assert listed_on_page(html_of(client, "/pledges?status=validated")) == []
    page = html_of(client, "/pledges?network=metropolis")
    assert '<option value="metropolis" selected>' in page


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("country=MAR", "country"),
        ("status=done", "status"),
        ("gcm_objective=24", "gcm_objective"),
        ("gcm_objective=x", "gcm_objective"),
        ("sdg=99", "sdg"),
        ("sort=title", "sort"),
        ("limit=0", "limit"),
        ("stale=maybe", "stale"),
        ("cursor=not-ours", "cursor"),
        ("network=a%20b", "network"),
    ],
)
def test_a_malformed_filter_is_refused_with_a_page_naming_it(
    client: TestClient, query: str, field: str
) -> None:
    response = client.get(f"/pledges?{query}")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert f'data-field="{field}"' in response.text


def test_pages_of_the_list_cover_every_pledge_once_in_each_order(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    in_order = [submit_pledge(services, title={"en": f"Pledge {n}"}) for n in range(5)]
    made = set(in_order)
    for sort in ("pledge_id", "updated", "submitted"):
        seen: list[str] = []
        path: str | None = f"/pledges?limit=2&sort={sort}"
        while path is not None:
            html = html_of(client, path)
            seen += listed_on_page(html)
            found = re.search(r'<a href="([^"]+)" rel="next">', html)
            path = unescape(found.group(1)) if found else None
        assert sorted(seen) == sorted(made), sort
        assert len(seen) == len(made), sort
        if sort == "pledge_id":
            assert seen == sorted(made)
        else:  # newest first: each pledge was submitted (and last changed) after the one before
            assert seen == in_order[::-1]


# --- a pledge ----------------------------------------------------------------------------------


def test_the_timeline_shows_every_event_with_its_leaf_and_receipt(
    services: Services, clock: SteppingClock, client: TestClient
) -> None:
    pledge_id = full_history(services, clock)
    html = html_of(client, f"/pledges/{pledge_id}")
    ids = timeline_ids(client, pledge_id)
    assert (
        re.findall(r'<li id="event-[^"]+" class="event[^"]*" data-event-id="([^"]+)"', html) == ids
    )
    for event_id in ids:
        assert f'href="/api/v1/events/{event_id}/receipt"' in html
    receipt = client.get(f"/api/v1/events/{ids[0]}/receipt")
    assert receipt.status_code == 200
    assert f"Leaf {receipt.json()['leaf_index']}" in html


def test_an_amendment_shows_the_field_before_and_after(
    services: Services, clock: SteppingClock, client: TestClient
) -> None:
    pledge_id = full_history(services, clock)
    text = text_of(html_of(client, f"/pledges/{pledge_id}"))
    assert (
        "title en: One-stop welcome centre for newcomers en: Welcome centre and legal desk" in text
    )
    assert "Scope widened after consultation" in text


def test_an_erratum_is_marked_and_tied_to_the_event_it_corrects(
    services: Services, clock: SteppingClock, client: TestClient
) -> None:
    pledge_id = full_history(services, clock)
    html = html_of(client, f"/pledges/{pledge_id}")
    report_id = timeline_ids(client, pledge_id)[3]
    assert f'<a href="#event-{report_id}">' in html
    corrected = html.split(f'<li id="event-{report_id}"')[1].split("</li>")[0]
    assert "Corrected by an erratum" in corrected


def test_the_as_of_picker_shows_the_state_on_that_day(
    services: Services, clock: SteppingClock, client: TestClient
) -> None:
    pledge_id = full_history(services, clock)
    before = html_of(client, f"/pledges/{pledge_id}", params={"as_of": "2026-03-06"})
    heading = before.split("</h1>")[0]
    assert "One-stop welcome centre for newcomers" in heading
    assert "State at the end of 2026-03-06" in before
    assert 'value="2026-03-06"' in before
    assert before.count('class="event later') == 3  # amendment, report, erratum come later
    now = html_of(client, f"/pledges/{pledge_id}")
    assert "Welcome centre and legal desk" in now.split("</h1>")[0]


@pytest.mark.parametrize(
    ("as_of", "status"), [("2026-13-01", 400), ("2999-01-01", 400), ("2026-02-01", 404)]
)
def test_a_bad_or_too_early_as_of_date_is_refused(
    services: Services, clock: SteppingClock, client: TestClient, as_of: str, status: int
) -> None:
    pledge_id = full_history(services, clock)
    response = client.get(f"/pledges/{pledge_id}", params={"as_of": as_of})
    assert response.status_code == status
    assert 'data-field="as_of"' in response.text


def test_an_unknown_pledge_network_or_city_is_a_404_page(client: TestClient) -> None:
    for path, field in (
        ("/pledges/nope", "pledge_id"),
        ("/networks/nope", "network_id"),
        ("/cities/nope", "city_id"),
    ):
        response = client.get(path)
        assert response.status_code == 404
        assert f'data-field="{field}"' in response.text


def test_the_indicator_chart_has_its_figures_as_a_table(
    services: Services, clock: SteppingClock, client: TestClient
) -> None:
    pledge_id = full_history(services, clock)
    text = text_of(html_of(client, f"/pledges/{pledge_id}"))
    assert "Baseline 2026-01-01 0" in text
    assert "Reported 2026-03-15 1200" in text
    assert "Target 2028-12-31 5000" in text


# --- networks, cities ---------------------------------------------------------------------------


def test_a_network_page_charts_its_roll_up_and_lists_members_and_signatures(
    services: Services, clock: SteppingClock, client: TestClient
) -> None:
    full_history(services, clock)
    with services.ledger.batch() as batch:
        register_reference_seed(batch, ADMIN, ())
        batch.execute(
            "sign_declaration",
            ADMIN,
            {"city_id": "ma-marrakech", "signed_on": "2018-12-08"},
            target="marrakech-2018",
        )
    text = text_of(html_of(client, "/networks/uclg"))
    assert "Awaiting validation 1" in text  # the material amendment asked for a new look
    assert "15. " in text  # a GCM objective of the pledge, charted
    assert "Marrakech marrakech-2018 2018-12-08" in text
    city = text_of(html_of(client, "/cities/ma-marrakech"))
    assert "UCLG" in city
    assert "marrakech-2018 2018-12-08" in city


# --- reports -----------------------------------------------------------------------------------


def test_the_reports_page_shows_the_digest_of_the_report_it_downloads(
    services: Services, clock: SteppingClock, client: TestClient
) -> None:
    full_history(services, clock)
    services.log.sign(wait=True, force=True)
    expected = build_report(
        services.store,
        services.log,
        as_of=date(2026, 3, 31),
        freshness_months=services.settings.freshness_months,
    )
    html = html_of(client, "/reports", params={"as_of": "2026-03-31"})
    assert f'<code id="report-digest">{expected.sha256}</code>' in html
    for report_format in ("md", "csv", "json", "html"):
        download = client.get("/reports", params={"as_of": "2026-03-31", "format": report_format})
        assert download.status_code == 200
        assert "attachment" in download.headers["content-disposition"]
        assert download.text == render_report(expected, report_format)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("as_of=2026-03-01&format=pdf", "format"),
        ("format=md", "as_of"),
        ("as_of=yesterday", "as_of"),
        ("as_of=2026-03-01&network=nope", "network"),
    ],
)
def test_a_bad_report_request_is_refused_naming_the_field(
    services: Services, client: TestClient, query: str, field: str
) -> None:
    register_basics(services)
    response = client.get(f"/reports?{query}")
    assert response.status_code == 400
    assert f'data-field="{field}"' in response.text


# --- audit -------------------------------------------------------------------------------------


def test_the_audit_page_shows_the_checkpoint_key_and_a_consistency_proof(
    services: Services, clock: SteppingClock, client: TestClient
) -> None:
    full_history(services, clock)
    html = html_of(client, "/audit", params={"from": "3", "to": "12"})
    checkpoint = client.get("/api/v1/log/checkpoint").text
    assert checkpoint.splitlines()[1] in html  # the tree size line of the same note
    assert services.log.signer.vkey in html
    assert 'id="consistency-result"' in html
    proof = client.get("/api/v1/log/proofs/consistency", params={"from": 3, "to": 12}).json()
    for hashed in proof["proof"]:
        assert hashed in html
    assert "uclg-key" in html  # the key history


@pytest.mark.parametrize(
    ("query", "field"), [("from=5&to=2", "from"), ("from=2", "to"), ("from=1&to=99999", "to")]
)
def test_a_bad_consistency_check_is_refused_naming_the_field(
    services: Services, clock: SteppingClock, client: TestClient, query: str, field: str
) -> None:
    full_history(services, clock)
    response = client.get(f"/audit?{query}")
    assert response.status_code == 400
    assert f'data-field="{field}"' in response.text


def test_a_store_without_the_demo_is_not_labelled_demo(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    assert 'id="demo-label"' not in html_of(client, "/")


def test_a_group_page_counts_a_pledge_recorded_since_it_was_last_shown(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    submit_pledge(services, gcm_objectives=[15])
    assert "4. " not in text_of(html_of(client, "/networks/uclg"))
    submit_pledge(services, gcm_objectives=[4])
    assert "4. " in text_of(html_of(client, "/networks/uclg"))


def test_the_audit_page_lists_a_key_issued_since_it_was_last_shown(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    assert "late-key" not in html_of(client, "/audit")
    with services.ledger.batch() as batch:
        issue_keys(batch, Principal("late-key", "validator"))
    assert "late-key" in html_of(client, "/audit")


# --- issue 11's records on the pledge page -------------------------------------------------------


def test_the_pledge_page_shows_translations_external_ids_flags_and_corrected_figures(
    services: Services, clock: SteppingClock, client: TestClient
) -> None:
    pledge_id = full_history(services, clock)
    reported = client.get(f"/api/v1/pledges/{pledge_id}").json()
    progress_id = next(
        e["event_id"]
        for e in client.get(f"/api/v1/pledges/{pledge_id}/timeline").json()["events"]
        if e["type"] == "pledge.progress_reported"
    )
    with services.ledger.batch() as batch:
        batch.execute(
            "translate_pledge",
            UCLG,
            {"field": "title", "language": "fr", "text": "Centre d'accueil et guichet juridique"},
            target=pledge_id,
        )
        batch.execute(
            "add_external_id", UCLG, {"scheme": "grf", "value": "GRF-2026-00042"}, target=pledge_id
        )
        batch.execute(
            "correct_observation",
            UCLG,
            {
                "progress_event_id": progress_id,
                "indicator_id": "people-served",
                "date": "2026-03-15",
                "value": "1150",
                "reason": "Staff were counted",
            },
            target=pledge_id,
        )
    french = text_of(html_of(client, f"/pledges/{pledge_id}?lang=fr"))
    assert "Centre d'accueil et guichet juridique" in french  # the translation, not the original
    english = text_of(html_of(client, f"/pledges/{pledge_id}?lang=en"))
    assert "Welcome centre and legal desk" in english
    assert "grf:GRF-2026-00042" in english
    assert "reported 1200, corrected to 1150" in english
    flags = client.get(f"/api/v1/pledges/{pledge_id}").json()["flags"]
    assert flags == reported["flags"]  # translations, ids and corrections raise no flag
    for flag in flags:  # every derived flag the API gives is named on the page
        assert word(f"flag_{flag}", "en") in english
    assert "Quality flags" in english
