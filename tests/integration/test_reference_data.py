"""Reference data through the real ledger and the command line (ADR 0014): registered by events,
checked as of each pledge's own submission or amendment, seeded into stores written before it,
listed by the read models, and covered by the verifier's replay."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import orjson
import pytest

from api.bootstrap import Services, bootstrap
from domain.errors import InvalidInput, NotFound
from domain.events import DeclarationSigned, NewEvent, PledgeContent, PledgeSubmitted
from ledger.clock import SteppingClock
from ledger.settings import LedgerSettings
from ledger.verify import verify_bundle
from projections import ProjectionRunner, list_pledges, read_snapshot, reference_items
from tests.cli.test_cli_first_hour import environment, run
from tests.integration.ledger_scenario import (
    ADMIN,
    METROPOLIS,
    UCLG,
    pledge_body,
    register_basics,
    register_reference,
    submit_pledge,
)
from tests.integration.test_verify_authority import append_forged


def catch_up(services: Services) -> None:
    ProjectionRunner(services.engine, services.store).catch_up()


def test_a_pledge_tagged_with_an_area_later_retired_can_still_be_amended(
    services: Services,
) -> None:
    register_basics(services)
    register_reference(services)
    pledge_id = submit_pledge(services, priority_areas=["housing"])
    with services.ledger.batch() as batch:
        batch.execute("retire_priority_area", ADMIN, {"reason": "Merged"}, target="housing")

    with services.ledger.batch() as batch:
        batch.execute(
            "amend_pledge",
            UCLG,
            {"changes": {"ends_on": "2029-06-30"}, "reason": "Funding cycle moved"},
            target=pledge_id,
        )
    assert services.ledger.new_batch().pledge(pledge_id).content.priority_areas == ("housing",)

    submit = pledge_body(priority_areas=["housing"])
    with pytest.raises(InvalidInput) as caught, services.ledger.batch() as batch:
        batch.execute("submit_pledge", UCLG, submit)
    assert caught.value.field == "priority_areas"


def test_an_answer_to_a_call_outside_its_dates_is_refused_and_nothing_is_stored(
    services: Services, clock: SteppingClock
) -> None:
    register_basics(services)
    call = {
        "id": "imrf-2026",
        "title": {"en": "Call to action for the IMRF 2026"},
        "opens_on": "2026-01-01",
        "closes_on": "2026-03-01",
    }
    with services.ledger.batch() as batch:
        batch.execute("register_call", ADMIN, call)
    answering = submit_pledge(services, calls=["imrf-2026"])  # on its closing day
    before = services.store.max_notification_id()

    clock.set(datetime.combine(date(2026, 3, 2), time(9), tzinfo=UTC))
    with pytest.raises(InvalidInput) as caught, services.ledger.batch() as batch:
        batch.execute("submit_pledge", UCLG, pledge_body(calls=["imrf-2026"]))

    assert caught.value.field == "calls"
    assert services.store.max_notification_id() == before
    catch_up(services)
    with read_snapshot(services.engine) as connection:
        listed = list_pledges(connection, call="imrf-2026")
        calls = reference_items(connection, "call")
    assert [item.pledge_id for item in listed.items] == [answering]
    assert [(c.id, c.opens_on, c.closes_on) for c in calls] == [
        ("imrf-2026", date(2026, 1, 1), date(2026, 3, 1))
    ]


def test_an_unregistered_declaration_cannot_be_signed_until_it_is_registered(
    services: Services,
) -> None:
    register_basics(services)
    signature = {"city_id": "ma-marrakech", "signed_on": "2018-12-10"}
    with pytest.raises(NotFound) as caught, services.ledger.batch() as batch:
        batch.execute("sign_declaration", UCLG, signature, target="marrakech-2018")
    assert caught.value.field == "declaration_id"

    register_reference(services)
    with services.ledger.batch() as batch:
        batch.execute("sign_declaration", UCLG, signature, target="marrakech-2018")
    catch_up(services)
    with read_snapshot(services.engine) as connection:
        [declaration] = reference_items(connection, "declaration")
    assert (declaration.id, declaration.adopted_on) == ("marrakech-2018", date(2018, 12, 8))


def test_the_read_models_list_priority_areas_with_their_retirement(services: Services) -> None:
    register_basics(services)
    register_reference(services, ("housing", "health"))
    with services.ledger.batch() as batch:
        batch.execute("retire_priority_area", ADMIN, {"reason": "Merged"}, target="health")
    catch_up(services)
    with read_snapshot(services.engine) as connection:
        areas = reference_items(connection, "priority_area")
    assert [(a.id, a.retired, a.retired_reason) for a in areas] == [
        ("health", True, "Merged"),
        ("housing", False, None),
    ]
    assert areas[1].title == {"en": "Housing", "fr": "Logement", "es": "Vivienda"}


def legacy_store(services: Services) -> str:
    """A store as the previous version wrote it: a signature of an unregistered declaration and
    a pledge tagged with an area that was only a setting. Answers the pledge's id."""
    register_basics(services)
    signed = DeclarationSigned(
        declaration_id="marrakech-2018", city_id="ma-marrakech", signed_on=date(2018, 12, 10)
    )
    append_forged(
        services,
        NewEvent(signed, ("ma-marrakech",), date(2018, 12, 10)),
        "declaration:marrakech-2018",
        1,
        UCLG.key_id,
    )
    body = pledge_body(priority_areas=["legacy-area"])
    del body["network_id"]
    content = PledgeContent.model_validate(body)
    pledge_id = "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
    submitted = PledgeSubmitted(pledge_id=pledge_id, network_id="uclg", content=content)
    append_forged(
        services, NewEvent(submitted, content.cities), f"pledge:{pledge_id}", 1, UCLG.key_id
    )
    services.ledger.cache.forget([f"pledge:{pledge_id}", "declaration:marrakech-2018"])
    return pledge_id


def test_reference_seed_migrates_a_store_written_before_reference_data_was_on_the_log(
    settings: LedgerSettings, clock: SteppingClock
) -> None:
    with bootstrap(settings, clock=clock) as services:
        pledge_id = legacy_store(services)
        with services.ledger.batch() as batch:  # its old pledge stays amendable
            batch.execute(
                "amend_pledge",
                UCLG,
                {"changes": {"description": {"en": "Clearer."}}, "reason": "Wording"},
                target=pledge_id,
            )
    env = environment(settings)

    seeded = run(["reference", "seed", "--json"], env)
    again = run(["reference", "seed", "--json"], env)

    assert seeded.exit_code == 0, seeded.stderr
    registered = orjson.loads(seeded.stdout)["registered"]
    assert registered[0] == "declaration:marrakech-2018"
    assert "area:housing" in registered
    assert orjson.loads(again.stdout) == {"registered": [], "events": 0}
    with bootstrap(settings, clock=clock) as services, services.ledger.batch() as batch:
        batch.execute(
            "sign_declaration",
            METROPOLIS,
            {"city_id": "sn-dakar", "signed_on": "2019-01-10"},
            target="marrakech-2018",
        )
        new = batch.execute("submit_pledge", UCLG, pledge_body(priority_areas=["housing"]))
    assert new.pledge_id is not None


def test_reference_seed_refuses_a_store_that_does_not_exist(tmp_path: Path) -> None:
    env = {"LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"}
    result = run(["reference", "seed"], env)
    assert result.exit_code == 1
    assert "no store" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_the_verifier_replays_reference_events_and_the_new_pledge_fields(
    services: Services, tmp_path: Path
) -> None:
    register_basics(services)
    register_reference(services)
    with services.ledger.batch() as batch:
        batch.execute(
            "register_call",
            ADMIN,
            {
                "id": "grf-2027",
                "title": {"en": "GRF 2027"},
                "opens_on": "2026-01-01",
                "closes_on": "2027-12-31",
            },
        )
        batch.execute("retire_priority_area", ADMIN, {"reason": "Merged"}, target="health")
    submit_pledge(
        services,
        priority_areas=["housing"],
        gcm_principles=["people-centred"],
        nua_paragraphs=[28],
        calls=["grf-2027"],
    )
    env = environment(services.settings)
    assert run(["checkpoint"], env).exit_code == 0
    exported = run(["export", str(tmp_path / "bundle")], env)
    assert exported.exit_code == 0, exported.stderr

    authority = verify_bundle(tmp_path / "bundle")
    bundle = run(["verify", str(tmp_path / "bundle"), "--json"])  # with the roll-ups replay
    store = run(["verify", "--json"], env)  # and the read models against a rebuild

    assert authority.ok, authority.failure
    assert authority.authority_checked
    assert bundle.exit_code == 0, bundle.stdout + bundle.stderr
    assert orjson.loads(bundle.stdout)["rollups_checked"] is True
    assert store.exit_code == 0, store.stdout + store.stderr


def test_verify_reads_views_installed_before_the_reference_table_as_empty(
    services: Services,
) -> None:
    # A store whose views were installed by the previous version and not opened for writing
    # since: no projection_reference_items table, and no reference events on its log.
    register_basics(services)
    submit_pledge(services)
    catch_up(services)
    services.log.sign(wait=False, force=True)
    with services.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE projection_reference_items")

    result = run(["verify", "--json"], environment(services.settings))  # opens read-only

    assert result.exit_code == 0, result.stdout + result.stderr
