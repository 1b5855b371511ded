"""Reference taxonomies: GCM objectives, GCR areas, SDGs and configurable priority areas."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput, UnknownTaxonomyCode
from domain.taxonomies import DEFAULT_PRIORITY_AREAS, Taxonomies, reference_taxonomies


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


def test_reference_data_starts_with_the_default_priority_areas(reference: Taxonomies) -> None:
    assert reference.priority_areas == DEFAULT_PRIORITY_AREAS
    assert len(DEFAULT_PRIORITY_AREAS) == 7


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


# --- priority areas -------------------------------------------------------------------------------


@pytest.mark.parametrize("area", DEFAULT_PRIORITY_AREAS)
def test_default_priority_areas_are_accepted(reference: Taxonomies, area: str) -> None:
    reference.check_priority_area(area)


def test_unconfigured_priority_area_is_refused(reference: Taxonomies) -> None:
    with pytest.raises(UnknownTaxonomyCode) as caught:
        reference.check_priority_area("climate-mobility")
    assert caught.value.field == "priority_areas"


def test_configured_priority_areas_replace_the_default_list(reference: Taxonomies) -> None:
    configured = reference.with_priority_areas(("climate-mobility", "housing"))
    configured.check_priority_area("climate-mobility")
    with pytest.raises(UnknownTaxonomyCode):
        configured.check_priority_area("health")


def test_configuring_priority_areas_leaves_the_reference_data_unchanged(
    reference: Taxonomies,
) -> None:
    reference.with_priority_areas(("climate-mobility",))
    assert reference.priority_areas == DEFAULT_PRIORITY_AREAS
    assert reference_taxonomies().priority_areas == DEFAULT_PRIORITY_AREAS


def test_configuring_priority_areas_keeps_the_reference_codes(reference: Taxonomies) -> None:
    configured = reference.with_priority_areas(("climate-mobility",))
    assert configured.gcm_objectives == reference.gcm_objectives
    assert configured.gcr_areas == reference.gcr_areas
    assert configured.sdgs == reference.sdgs


@pytest.mark.parametrize("area", ["Housing", "decent work", "", "-housing", "logement_social"])
def test_configured_priority_area_must_be_a_lowercase_slug(
    reference: Taxonomies, area: str
) -> None:
    with pytest.raises(UnknownTaxonomyCode) as caught:
        reference.with_priority_areas(("housing", area))
    assert caught.value.field == "priority_areas"


def test_sdg_target_with_a_trailing_newline_is_refused(reference: Taxonomies) -> None:
    with pytest.raises(UnknownTaxonomyCode):
        reference.check_sdg_target("10.7\n")
