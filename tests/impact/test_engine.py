"""The impact stage on hand-checked cases: principal selection (Guidelines Section II), MS-DRG
and CC/MCC with the principal's CC exclusions (MS-DRG v43 Definitions Manual: DRGs 193-195
simple pneumonia, 291-293 heart failure, Appendix C exclusions), CMS-HCC V28 hierarchies (the
2026 model: HCC 37 over 38) and the provisional DRG without demographics."""

from __future__ import annotations

import pytest

from cac.coding.records import Demographics
from cac.impact import Impact, ImpactEngine, ImpactRequest, shared_engine

OLD_WOMAN = Demographics(age=70, sex="female")


@pytest.fixture(scope="module")
def engine() -> ImpactEngine:
    return shared_engine()


def _assess(engine: ImpactEngine, *codes: str, **kw: object) -> Impact:
    return engine.assess(ImpactRequest(tuple(codes), **kw))  # type: ignore[arg-type]


def _cc(impact: Impact) -> dict[str, str | None]:
    return {c.code: c.cc_mcc for c in impact.codes}


def test_sepsis_is_principal_before_its_localised_infection(engine: ImpactEngine) -> None:
    impact = _assess(engine, "J18.9", "A41.9")
    assert impact.principal is not None
    assert (impact.principal.code, impact.principal.rule) == ("A41.9", "sepsis_first")
    assert impact.principal.section == "I.C.1.d.4"
    assert impact.drg is not None and impact.drg.mdc == "18"  # infectious diseases, not MDC 4


def test_a_manifestation_is_passed_over_for_its_etiology(engine: ImpactEngine) -> None:
    # F02.80 is "dementia in other diseases classified elsewhere": never principal (I.A.13).
    impact = _assess(engine, "F02.80", "G30.9")
    assert impact.principal is not None
    assert impact.principal.code == "G30.9"
    assert "MANIFESTATION_AS_PDX" in impact.principal.reason


def test_a_symptom_gives_way_to_a_definitive_diagnosis(engine: ImpactEngine) -> None:
    impact = _assess(engine, "R50.9", "J18.9")
    assert impact.principal is not None
    assert (impact.principal.code, impact.principal.rule) == ("J18.9", "symptom_not_principal")


def test_otherwise_the_first_code_in_sequence_is_principal(engine: ImpactEngine) -> None:
    impact = _assess(engine, "J18.9", "I10")
    assert impact.principal is not None
    assert (impact.principal.code, impact.principal.rule) == ("J18.9", "principal.first_listed")


def test_a_fixed_principal_is_kept_even_when_a_rule_would_move_it(engine: ImpactEngine) -> None:
    impact = _assess(engine, "J18.9", "A41.9", principal_fixed=True)
    assert impact.principal is not None
    assert (impact.principal.code, impact.principal.rule) == ("J18.9", "principal.given")


def test_simple_pneumonia_splits_on_the_secondary_severity(engine: ImpactEngine) -> None:
    alone = _assess(engine, "J18.9", demographics=OLD_WOMAN)
    with_cc = _assess(engine, "J18.9", "E87.1", demographics=OLD_WOMAN)
    with_mcc = _assess(engine, "J18.9", "J96.01", demographics=OLD_WOMAN)
    assert [i.drg.code for i in (alone, with_cc, with_mcc) if i.drg] == ["195", "194", "193"]
    assert _cc(with_cc)["E87.1"] == "CC"
    assert _cc(with_mcc)["J96.01"] == "MCC"
    assert with_mcc.drg is not None and alone.drg is not None
    assert with_mcc.drg.weight is not None and alone.drg.weight is not None
    assert with_mcc.drg.weight > alone.drg.weight
    assert _cc(with_mcc)["J18.9"] is None  # the principal has no CC/MCC status of its own


def test_the_principals_cc_exclusions_cancel_a_secondary_mcc(engine: ImpactEngine) -> None:
    # I50.21 is an MCC, but not beside an I50.2- principal (the same condition).
    impact = _assess(engine, "I50.23", "I50.21", demographics=OLD_WOMAN)
    part = next(c for c in impact.codes if c.code == "I50.21")
    assert (part.cc_mcc, part.cc_excluded) == (None, True)
    assert impact.drg is not None and impact.drg.code == "293"
    beside_pneumonia = _assess(engine, "J18.9", "I50.21", demographics=OLD_WOMAN)
    assert _cc(beside_pneumonia)["I50.21"] == "MCC"


def test_the_drg_is_provisional_without_age_and_sex(engine: ImpactEngine) -> None:
    without = _assess(engine, "J18.9", "J96.01")
    with_them = _assess(engine, "J18.9", "J96.01", demographics=OLD_WOMAN)
    assert without.drg is not None and with_them.drg is not None
    assert without.drg.provisional and "age and sex not given" in str(
        without.drg.provisional_reason
    )
    assert not with_them.drg.provisional
    assert without.drg.code == with_them.drg.code == "193"
    only_age = _assess(engine, "J18.9", demographics=Demographics(age=70))
    assert only_age.drg is not None and only_age.drg.provisional


def test_hcc_37_drops_hcc_38_in_v28_and_18_drops_19_in_v24(engine: ImpactEngine) -> None:
    impact = _assess(engine, "E11.22", "E11.9", setting="outpatient", demographics=OLD_WOMAN)
    assert impact.hcc.hcc_codes == ("37",)
    assert impact.hcc.dropped_by_hierarchy == ("38",)
    assert impact.hcc_v24.hcc_codes == ("18",)
    parts = {c.code: c.hccs for c in impact.codes}
    assert parts == {"E11.22": ("37",), "E11.9": ("38",)}  # per code: before hierarchies


def test_the_raf_needs_demographics_and_the_disease_part_does_not(engine: ImpactEngine) -> None:
    full = _assess(engine, "E11.22", "I50.9", setting="outpatient", demographics=OLD_WOMAN)
    bare = _assess(engine, "E11.22", "I50.9", setting="outpatient")
    assert bare.hcc.raf is None and bare.hcc.raf_demographic is None
    assert bare.hcc.raf_disease == full.hcc.raf_disease > 0
    assert full.hcc.raf is not None and full.hcc.raf_demographic is not None
    assert full.hcc.raf == pytest.approx(full.hcc.raf_disease + full.hcc.raf_demographic)
    coefficients = sum(e.coefficient for e in full.hcc.hccs)
    assert full.hcc.raf_disease >= coefficients  # plus the diabetes x heart failure interaction


def test_outpatient_visits_get_no_drg_and_a_first_listed_diagnosis(engine: ImpactEngine) -> None:
    impact = _assess(engine, "R50.9", "J18.9", setting="outpatient")
    assert impact.drg is None
    assert impact.principal is not None
    assert (impact.principal.code, impact.principal.section) == ("R50.9", "IV.G")


def test_heart_failure_without_type_prompts_and_its_effect_is_measured(
    engine: ImpactEngine,
) -> None:
    impact = _assess(engine, "J18.9", "I50.9", demographics=OLD_WOMAN)
    prompt = next(p for p in impact.prompts if p.id == "heart_failure_type_acuity")
    assert prompt.code == "I50.9"
    assert prompt.question.endswith("?") and "unable to be determined" in prompt.question
    by_code = {a.code: a for a in prompt.allows}
    assert by_code["I50.21"].cc_mcc == "MCC" and by_code["I50.21"].drg == "193"
    assert by_code["I50.22"].cc_mcc == "CC" and by_code["I50.22"].drg == "194"
    assert "no CC -> MCC" in prompt.effect and "DRG 195 -> 193" in prompt.effect
    # the prompt changes nothing by itself
    assert _cc(impact)["I50.9"] is None and impact.drg is not None and impact.drg.code == "195"


def test_a_specific_code_raises_no_prompt(engine: ImpactEngine) -> None:
    assert _assess(engine, "J15.1", "I50.23", "N18.4").prompts == ()


def test_a_prompt_claims_no_hcc_the_note_has_already(engine: ImpactEngine) -> None:
    impact = _assess(engine, "E11.22", "E11.9", setting="outpatient", demographics=OLD_WOMAN)
    prompt = next(p for p in impact.prompts if p.id == "diabetes_complications")
    assert "+HCC 37" not in prompt.effect
    alone = _assess(engine, "E11.9", setting="outpatient", demographics=OLD_WOMAN)
    assert "+HCC 37" in alone.prompts[0].effect
