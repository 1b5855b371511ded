"""Rendered pages are kept per ledger head (ADR 0019): a visit at the same head gets the same
bytes without a render, and anything that moves the head (an event stored, the read models
catching up, the log growing or signing, the ledger's day) is on the next visit at once. The
reader's language cookie is never kept with a page; refusals are never kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from fastapi.responses import HTMLResponse, Response
from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import Services
from api.pages import routes
from api.pages.i18n import LANGUAGE_COOKIE
from api.pages.routes import Head, Pages, RenderKey
from ledger.clock import SteppingClock
from projections import LedgerHead, ledger_head, views_position
from tests.integration.ledger_scenario import ADMIN, register_basics, submit_pledge


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


def counting_renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each template render (a kept page renders nothing)."""
    rendered: list[str] = []
    original = routes.Page.render

    def render(self: routes.Page, template: str, **kwargs: object) -> HTMLResponse:
        rendered.append(template)
        return original(self, template, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(routes.Page, "render", render)
    return rendered


def test_a_second_visit_at_the_same_head_is_the_kept_page(
    services: Services, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    renders = counting_renders(monkeypatch)
    for path in ("/", "/pledges", f"/pledges/{pledge_id}", "/networks/uclg", "/audit"):
        first = client.get(path)
        again = client.get(path)
        assert first.status_code == again.status_code == 200
        assert first.content == again.content
        assert first.headers["etag"] == again.headers["etag"]
        assert again.headers["content-security-policy"] == routes.CONTENT_SECURITY_POLICY
        assert "set-cookie" not in again.headers
    assert renders == ["home.html", "pledges.html", "pledge.html", "group.html", "audit.html"]
    # A client that holds the page revalidates it for nothing.
    tag = client.get("/pledges").headers["etag"]
    assert client.get("/pledges", headers={"if-none-match": tag}).status_code == 304


def test_every_write_is_on_the_next_visit(services: Services, client: TestClient) -> None:
    register_basics(services)
    assert client.get("/cities/pt-nowhere").status_code == 404
    before = client.get("/pledges").text
    with services.ledger.batch() as batch:
        batch.execute(
            "register_city",
            ADMIN,
            {"id": "pt-nowhere", "name": {"en": "Nowhere Town"}, "country": "PT"},
        )
    assert "Nowhere Town" in client.get("/cities/pt-nowhere").text
    pledge_id = submit_pledge(services)
    after = client.get("/pledges").text
    assert pledge_id not in before
    assert pledge_id in after
    home = client.get("/").text
    assert pledge_id in client.get(f"/pledges/{pledge_id}").text
    # The home page's recent activity names the submission: it was rendered again.
    assert home != before


def test_the_language_cookie_is_set_on_kept_pages_too(client: TestClient) -> None:
    first = client.get("/?lang=fr")
    client.cookies.clear()
    again = client.get("/?lang=fr")
    assert first.content == again.content
    for response in (first, again):
        assert response.headers["set-cookie"].startswith(f"{LANGUAGE_COOKIE}=fr;")
    # The page in another language is another page.
    client.cookies.clear()
    assert client.get("/?lang=es").content != first.content


def test_a_new_day_renders_again(
    services: Services, client: TestClient, clock: SteppingClock
) -> None:
    register_basics(services)
    clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    client.get("/reports")
    first = Pages().head(services)
    clock.set(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
    second = Pages().head(services)
    assert (first.day, second.day) == (date(2026, 3, 2), date(2026, 3, 3))
    assert first != second
    assert 'max="2026-03-03"' in client.get("/reports").text


def test_the_head_is_read_in_one_statement_and_agrees_with_each_source(
    services: Services,
) -> None:
    with services.engine.connect() as connection:
        empty = ledger_head(connection, services.store)
    assert empty == LedgerHead(0, 0, 0, 0)
    register_basics(services)
    submit_pledge(services)
    with services.engine.connect() as connection:
        found = ledger_head(connection, services.store)
        views = views_position(connection)
    checkpoint = services.log.latest_checkpoint()
    assert checkpoint is not None
    assert found == LedgerHead(
        services.store.max_notification_id(), views, services.log.tree_size(), checkpoint.size
    )
    assert found.stored > 0
    assert services.log.head() == (found.tree_size, found.checkpoint_size)


def test_refusals_are_not_kept(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    renders = counting_renders(monkeypatch)
    assert client.get("/pledges?status=nonsense").status_code == 400
    assert client.get("/pledges?status=nonsense").status_code == 400
    assert renders.count("error.html") == 2


def key(name: str) -> RenderKey:
    head = Head(LedgerHead(1, 1, 1, 1), date(2026, 1, 1))
    return RenderKey("http://testserver/", name, "", "en", head)


def test_concurrent_visits_of_one_page_render_it_once() -> None:
    pages = Pages()
    calls: list[int] = []

    def slow() -> Response:
        calls.append(1)
        time.sleep(0.2)
        return HTMLResponse("<p>kept</p>")

    bodies: list[bytes] = []

    def visit() -> None:
        bodies.append(bytes(pages.rendered(key("/"), slow).body))

    threads = [threading.Thread(target=visit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert bodies == [b"<p>kept</p>"] * 8


def test_a_failed_render_leaves_the_waiting_visits_to_render_it() -> None:
    pages = Pages()
    outcomes: list[str] = []
    started = threading.Event()

    def failing() -> Response:
        started.set()
        time.sleep(0.1)
        raise RuntimeError("the database went away")

    def first() -> None:
        try:
            pages.rendered(key("/"), failing)
        except RuntimeError:
            outcomes.append("failed")

    thread = threading.Thread(target=first)
    thread.start()
    started.wait()
    answer = pages.rendered(key("/"), lambda: HTMLResponse("<p>second</p>"))
    thread.join()
    assert outcomes == ["failed"]
    assert answer.body == b"<p>second</p>"


def test_kept_pages_are_bounded_by_bytes_and_an_older_head_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(routes, "PAGE_CACHE_BYTES", 8 * 1000)
    pages = Pages()
    body = "x" * 900
    for n in range(20):
        pages.rendered(key(f"/p{n}"), lambda: HTMLResponse(body))
    assert pages._rendered_bytes <= 8 * 1000
    assert key("/p19") in pages._rendered
    assert key("/p0") not in pages._rendered
    later = Head(LedgerHead(2, 2, 2, 2), date(2026, 1, 1))
    newer = RenderKey("http://testserver/", "/p19", "", "en", later)
    pages.rendered(newer, lambda: HTMLResponse(body))
    assert list(pages._rendered) == [newer]
    # A page too large to keep is answered and not kept.
    pages.rendered(key("/big"), lambda: HTMLResponse("y" * 2000))
    assert key("/big") not in pages._rendered
