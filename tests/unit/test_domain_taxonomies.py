"""Shipped taxonomies: GCM objectives and guiding principles, GCR areas, SDGs and their targets,
New Urban Agenda paragraphs."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from domain.errors import InvalidInput, UnknownTaxonomyCode
from domain.taxonomies import Taxonomies, reference_taxonomies


@pytest.fixture
def reference() -> Taxonomies:
    return reference_taxonomies()


def test_reference_data_lists_the_23_gcm_objectives(reference: Taxonomies) -> None:
    assert sorted(reference.gcm_objectives) == list(range(1, 24))


def test_reference_data_lists_the_17_sdgs(reference: Taxonomies) -> None:
    assert sorted(reference.sdgs) == list(range(1, 18))


def test_reference_data_lists_the_gcr_objectives(reference: Taxonomies) -> None:
    assert {f"gcr-objective-{n}" for n in range(1, 5)} <= set(reference.gcr_areas)


def test_reference_entries_carry_code_title_and_kind(reference: Taxonomies) -> None:
    entry = reference.gcm_objectives[1]
    assert entry.code == "1"
    assert entry.title.startswith("Collect and utilize accurate and disaggregated data")
    assert entry.kind == "gcm_objective"


def test_reference_data_is_read_once() -> None:
    assert reference_taxonomies() is reference_taxonomies()


def test_unknown_taxonomy_code_is_an_invalid_input() -> None:
    assert issubclass(UnknownTaxonomyCode, InvalidInput)
    assert UnknownTaxonomyCode.code == "unknown_taxonomy_code"


# --- GCM objectives -------------------------------------------------------------------------------


@pytest.mark.parametrize("objective", [1, 15, 23])
def test_gcm_objectives_1_to_23_are_known(reference: Taxonomies, objective: int) -> None:
    reference.check_gcm_objective(objective)


@pytest.mark.parametrize("objective", [0, 24, -1])
def test_gcm_objective_outside_1_to_23_is_refused(reference: Taxonomies, objective: int) -> None:
    with pytest.raises(UnknownTaxonomyCode) as caught:
        reference.check_gcm_objective(objective)
    assert caught.value.field == "gcm_objectives"


# --- GCR areas ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "area", ["gcr-objective-1", "grf2019-focus-3", "gcr-poa-III.B.1.5", "gcr-poa-III.B.2.1"]
)
def test_reference_gcr_areas_are_known(reference: Taxonomies, area: str) -> None:
    reference.check_gcr_area(area)


@pytest.mark.parametrize("area", ["gcr-objective-9", "GCR-OBJECTIVE-1", "", "housing"])
def test_unknown_gcr_area_is_refused(reference: Taxonomies, area: str) -> None:
    with pytest.raises(UnknownTaxonomyCode) as caught:
        reference.check_gcr_area(area)
    assert caught.value.field == "gcr_areas"


# --- SDGs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["1", "10", "17", "10.7", "1.1", "10.c", "17.19"])
def test_sdg_goals_and_targets_of_known_goals_are_accepted(
    reference: Taxonomies, target: str
) -> None:
    reference.check_sdg_target(target)


@pytest.mark.parametrize("target", ["18", "0", "00", "99.1"])
def test_sdg_goal_outside_1_to_17_is_refused(reference: Taxonomies, target: str) -> None:
    with pytest.raises(UnknownTaxonomyCode) as caught:
        reference.check_sdg_target(target)
    assert caught.value.field == "sdg_targets"


@pytest.mark.parametrize(
    "target", ["10.x1", "10.", "10.07", "10.0", "10.7.1", "10.C", " 10", "10 ", "", "SDG10", "x"]
)
def test_malformed_sdg_target_is_refused(reference: Taxonomies, target: str) -> None:
    with pytest.raises(UnknownTaxonomyCode) as caught:
        reference.check_sdg_target(target)
    assert caught.value.field == "sdg_targets"


# --- SDG targets: the real list -------------------------------------------------------------------


def test_reference_data_lists_the_169_sdg_targets(reference: Taxonomies) -> None:
    assert len(reference.sdg_targets) == 169
    assert {"1.1", "10.7", "10.c", "16.b", "17.19"} <= reference.sdg_targets


@pytest.mark.parametrize("target", ["10.99", "10.8", "10.d", "17.20", "7.c", "1.6"])
def test_sdg_target_of_the_right_form_that_does_not_exist_is_refused(
    reference: Taxonomies, target: str
) -> None:
    with pytest.raises(UnknownTaxonomyCode) as caught:
        reference.check_sdg_target(target)
    assert caught.value.field == "sdg_targets"


@pytest.mark.parametrize("target", ["10.7", "10.c", "17.19", "1.b", "10"])
def test_sdg_targets_and_goals_that_exist_are_accepted(reference: Taxonomies, target: str) -> None:
    reference.check_sdg_target(target)


# --- GCM guiding principles ---------------------------------------------------------------------


def test_reference_data_lists_the_ten_gcm_guiding_principles(reference: Taxonomies) -> None:
    assert len(reference.gcm_principles) == 10
    assert {"people-centred", "whole-of-society"} <= set(reference.gcm_principles)


def test_unknown_gcm_guiding_principle_is_refused(reference: Taxonomies) -> None:
    with pytest.raises(UnknownTaxonomyCode) as caught:
        reference.check_gcm_principle("global-geographical-scope")
    assert caught.value.field == "gcm_principles"


def test_gcm_guiding_principles_carry_labels_in_three_languages(reference: Taxonomies) -> None:
    entry = reference.gcm_principles["people-centred"]
    assert entry.label("fr") == "Priorité à la dimension humaine"
    assert entry.label("es") == "Centrada en las personas"
    assert entry.label("en") == "People-centred"


def test_gcm_objectives_carry_french_and_spanish_short_labels(reference: Taxonomies) -> None:
    assert reference.gcm_objectives[1].label("fr") == "Données"
    assert reference.gcm_objectives[1].label("es") == "Datos"


# --- New Urban Agenda paragraphs ----------------------------------------------------------------


@pytest.mark.parametrize("paragraph", [1, 28, 175])
def test_new_urban_agenda_paragraphs_1_to_175_are_known(
    reference: Taxonomies, paragraph: int
) -> None:
    reference.check_nua_paragraph(paragraph)


@pytest.mark.parametrize("paragraph", [0, 176, -3])
def test_new_urban_agenda_paragraph_outside_1_to_175_is_refused(
    reference: Taxonomies, paragraph: int
) -> None:
    with pytest.raises(UnknownTaxonomyCode) as caught:
        reference.check_nua_paragraph(paragraph)
    assert caught.value.field == "nua_paragraphs"


# --- the shipped copy of shared/reference ------------------------------------------------------


def test_gcr_programme_of_action_sections_up_to_iii_b_3_5_are_known(reference: Taxonomies) -> None:
    for area in (
        "gcr-poa-III.B.1.6",
        "gcr-poa-III.B.2.1",
        "gcr-poa-III.B.2.10",
        "gcr-poa-III.B.3.5",
    ):
        reference.check_gcr_area(area)


SHARED_REFERENCE = Path(__file__).parents[2] / ".." / "shared" / "reference" / "taxonomies.json"


@pytest.mark.skipif(not SHARED_REFERENCE.is_file(), reason="no ../shared/reference beside the tree")
def test_shipped_taxonomies_are_a_copy_of_the_shared_reference() -> None:
    shared = json.loads(SHARED_REFERENCE.read_text("utf-8"))
    shipped = json.loads(
        resources.files("domain.data").joinpath("taxonomies.json").read_text("utf-8")
    )
    for key in ("gcm_objectives", "gcr_areas", "sdgs", "gcm_guiding_principles"):
        assert shipped[key] == shared[key], key
    assert shared["sources"] == shipped["sources"][: len(shared["sources"])]


def test_sdg_target_with_a_trailing_newline_is_refused(reference: Taxonomies) -> None:
    with pytest.raises(UnknownTaxonomyCode):
        reference.check_sdg_target("10.7\n")
