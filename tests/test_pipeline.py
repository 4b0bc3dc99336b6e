"""cac.Coder on small notes, with the real knowledge base and the committed lexicon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cac.codesets.records import System
from cac.config import Settings
from cac.pipeline import MAX_TEXT_CHARS, Coder, CodingInputError

pytestmark = pytest.mark.kb


@pytest.fixture(scope="module")
def coder(real_home: Path) -> Coder:
    return Coder.load(Settings(home=real_home).kb_dir)


def test_diabetes_gives_e119_with_evidence_slicing_the_input(coder: Coder) -> None:
    text = "Assessment: Type 2 diabetes mellitus without complications."
    result = coder.code(text)
    e119 = next(s for s in result.suggestions if s.code == "E11.9")
    assert e119.shown and 0 < e119.confidence <= 1
    spans = [text[e.start : e.end] for e in e119.evidence]
    assert "Type 2 diabetes mellitus without complications" in spans
    assert all(e.text == text[e.start : e.end] for e in e119.evidence)


def test_json_shape(coder: Coder) -> None:
    payload = coder.code("Laparoscopic cholecystectomy was performed.").to_json()
    assert set(payload) == {"suggestions", "mentions", "model"}
    first = payload["suggestions"][0]
    assert {"system", "code", "description", "confidence", "evidence", "assertion", "demo"} <= set(
        first
    )
    assert any(m["label"] == "PROCEDURE" for m in payload["mentions"])


def test_suggestions_ranked_per_system(coder: Coder) -> None:
    result = coder.code("Hypertension. Renal colic. Laparoscopic cholecystectomy.")
    systems = [s.system.value for s in result.suggestions]
    assert systems == sorted(systems, key=["icd10cm", "icd10pcs", "hcpcs", "cpt"].index)
    for system in set(systems):
        confs = [s.confidence for s in result.suggestions if s.system.value == system]
        assert confs == sorted(confs, reverse=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("   \n ", "empty"), ("x" * (MAX_TEXT_CHARS + 1), "limit"), ("a\x00b", "NUL")],
)
def test_bad_input_raises_documented_error(coder: Coder, text: str, message: str) -> None:
    with pytest.raises(CodingInputError, match=message):
        coder.code(text)


def _codes(coder: Coder, text: str, setting: str = "inpatient") -> set[str]:
    return {s.code for s in coder.code(text, setting).suggestions}  # type: ignore[arg-type]


def test_negated_pneumonia_is_not_coded(coder: Coder) -> None:
    result = coder.code("No evidence of pneumonia.")
    assert not any(s.code.startswith(("J18", "J12", "J13", "J15")) for s in result.suggestions)
    assert any(m.text == "pneumonia" and m.assertion == "negated" for m in result.mentions)


def test_family_history_of_breast_cancer(coder: Coder) -> None:
    codes = _codes(coder, "Mother had breast cancer.")
    assert "Z80.3" in codes
    assert not any(c.startswith("C50") for c in codes)


def test_uncertain_diagnosis_follows_the_setting(coder: Coder) -> None:
    assert "J18.9" in _codes(coder, "Probable pneumonia.", "inpatient")
    assert "J18.9" not in _codes(coder, "Probable pneumonia.", "outpatient")


def test_status_post_lap_chole_is_understood(coder: Coder) -> None:
    result = coder.code("s/p lap chole")
    mention = next(m for m in result.mentions if m.text == "lap chole")
    assert mention.label == "PROCEDURE" and mention.assertion == "historical"
    # a past procedure is not coded as performed in this encounter
    assert not any(s.system.value == "icd10pcs" for s in result.suggestions)


def test_defined_abbreviation_takes_the_codes_of_its_long_form(coder: Coder) -> None:
    text = "History: chronic kidney disease (CKD).\nPlan: CKD is stable, recheck creatinine."
    result = coder.code(text)
    n189 = next(s for s in result.suggestions if s.code.startswith("N18"))
    later = text.rindex("CKD")
    assert any(e.start == later and e.end == later + 3 for e in n189.evidence)


class _FakeTagger:
    """Stands in for the MiniLM tagger: fixed spans, so linking can be tested without weights."""

    version = "fake"

    def __init__(self, spans: list[tuple[int, int, str]]) -> None:
        self.spans = spans

    def predict(self, text: str) -> list[tuple[int, int, str]]:
        return self.spans

    def static_vectors(self) -> None:
        return None  # title features then go without the static-vector cosine


def test_tagger_spans_become_mentions_and_are_linked_by_search(coder: Coder) -> None:
    text = "Findings: closed fracture of the left clavicle. s/p x"
    spans = [(10, 46, "DIAGNOSIS"), (48, 49, "PROCEDURE")]
    tagged = Coder(coder.kb, coder.lexicon, coder.annotator, tagger=_FakeTagger(spans))  # type: ignore[arg-type]
    result = tagged.code(text)
    assert result.model["mention_model"] == "fake"
    mention = "closed fracture of the left clavicle"
    assert any(m.text == mention and m.label == "DIAGNOSIS" for m in result.mentions)
    # a one-letter span is dropped, so it cannot swallow the "s/p" cue
    assert not any(m.text == "s" for m in result.mentions)
    linked = [
        s for s in result.suggestions if any(e.start == 10 and e.end == 46 for e in s.evidence)
    ]
    assert any(s.code.startswith("S42.0") for s in linked)


def test_without_a_tagger_the_phrase_matcher_alone_codes(coder: Coder) -> None:
    plain = Coder(coder.kb, coder.lexicon, coder.annotator, tagger=None)
    result = plain.code("Type 2 diabetes mellitus without complications.")
    assert "phrase matcher only" in result.model["mention_model"]
    assert "E11.9" in {s.code for s in result.suggestions}


class _ByHeuristicRanker:
    """A stand-in ranker: confidence is the heuristic column halved, threshold 0.2."""

    def __init__(self) -> None:
        self.thresholds = {System.ICD10CM: 0.2}
        self.calls = 0

    def systems(self) -> set[Any]:
        return set(self.thresholds)

    def confidence(self, system: Any, rows: Any, codes: list[str]) -> Any:
        from cac.ranking.features import FEATURES

        self.calls += 1
        return rows[:, FEATURES.index("heuristic")] / 2


def test_a_ranker_sets_confidence_and_the_shown_cut(coder: Coder) -> None:
    ranker = _ByHeuristicRanker()
    # the ranker's confidence alone: no conventions, no short-note floor
    ranked = Coder(coder.kb, coder.lexicon, coder.annotator, coder.tagger, coder.priors)
    ranked.ranker = ranker  # type: ignore[assignment]
    text = "Type 2 diabetes mellitus without complications. Laparoscopic cholecystectomy."
    plain = Coder(coder.kb, coder.lexicon, coder.annotator, coder.tagger, coder.priors)
    for c in (ranked, plain):
        c.conventions = None
        c.stated_confidence = 0.0
    baseline = {s.code: s.confidence for s in plain.code(text).suggestions}
    result = ranked.code(text)
    assert ranker.calls == 1  # ICD-10-CM only; other systems keep the heuristic
    for s in result.suggestions:
        if s.system.value == "icd10cm":
            assert s.confidence == pytest.approx(baseline[s.code] / 2, abs=1e-6)
            assert s.shown == (s.confidence >= 0.2)
        else:
            assert s.confidence == pytest.approx(baseline[s.code], abs=1e-6)


def test_sibling_codes_seen_in_train_are_unshown_alternatives(coder: Coder) -> None:
    plain = Coder(coder.kb, coder.lexicon, coder.annotator, coder.tagger, coder.priors)
    text = "Type 2 diabetes mellitus without complications."
    analysis = plain.analyse(text)
    assert (System.ICD10CM, "E119") in analysis.candidates
    own = {
        (s.start, s.end)
        for (_, code), c in analysis.candidates.items()
        if code.startswith("E11")
        for s in c.supports
        if s.source != "sibling"
    }
    siblings = [
        c
        for (_, code), c in analysis.candidates.items()
        if code.startswith("E11") and {s.source for s in c.supports} == {"sibling"}
    ]
    assert siblings, "E11 codes seen in CodiEsp train should be proposed beside E11.9"
    for sibling in siblings:  # they carry the evidence of the E11 codes that proposed them
        assert {(s.start, s.end) for s in sibling.supports} <= own
    shown = {s.code for s in plain.code(text).suggestions if s.shown}
    assert not any(c.startswith("E11") and c != "E11.9" for c in shown)


def test_the_lexicon_is_named_by_what_it_holds(coder: Coder) -> None:
    from cac.coding.lexicon import Lexicon

    assert coder.model_info["lexicon"] == coder.lexicon.meta["content_hash"][:12]
    same_train = Lexicon(coder.lexicon.phrases, {**coder.lexicon.meta, "content_hash": "f" * 64})
    other = Coder(coder.kb, same_train, coder.annotator, tagger=None)
    assert other.model_info["lexicon"] == "f" * 12  # same train data, other phrases: other name
    older = Lexicon(coder.lexicon.phrases, {"train_hash": "a" * 64})
    assert Coder(coder.kb, older, coder.annotator, tagger=None).model_info["lexicon"] == "a" * 12


def test_a_one_line_progress_note_gets_its_stated_conditions(coder: Coder) -> None:
    # regression: this note showed nothing (the ranker's confidence collapsed on a short note)
    text = "Pt with CHF and HTN, s/p CABG 2019, presents c/o SOB on exertion."
    result = coder.code(text)
    shown = {s.code for s in result.suggestions if s.shown}
    assert {"I11.0", "I50.9", "Z95.1"} <= shown
    assert not any(c.startswith("R06") for c in shown)  # dyspnea: integral to HF (I.B.5)
    sob = next(s for s in result.suggestions if s.code.startswith("R06"))  # the best-ranked
    assert sob.suppressed_by is not None and sob.suppressed_by.section == "I.B.5"
    assert not any(s.system is System.ICD10PCS and s.shown for s in result.suggestions)


def test_no_history_of_is_a_negation(coder: Coder) -> None:
    # regression: the span "No history" hid its cue from ConText and E11.9 was shown
    result = coder.code("No history of diabetes. Mother had breast cancer.")
    shown = {s.code for s in result.suggestions if s.shown}
    assert "Z80.3" in shown
    assert not any(c.startswith("E1") for c in shown)


def test_issue_examples_are_coded_as_a_coder_would(coder: Coder) -> None:
    cases = {
        "Admitted with acute exacerbation of COPD.": ({"J44.1"}, {"J44.9"}),
        "Known chronic systolic heart failure.": ({"I50.22"}, {"I50.9"}),
        "type 2 diabetes mellitus with diabetic chronic kidney disease stage 3": (
            {"E11.22", "N18.30"},
            {"E11.9", "N18.9", "N18.4", "N18.5"},
        ),
        "Chronic cholecystitis with cholelithiasis.": ({"K80.10"}, {"K80.20", "K81.1"}),
    }
    for text, (must, must_not) in cases.items():
        shown = {s.code for s in coder.code(text).suggestions if s.shown}
        assert must <= shown, (text, shown)
        assert not (must_not & shown), (text, shown)


def test_a_title_stated_across_listed_conditions_is_no_statement() -> None:
    from cac.pipeline import joins_list_items

    text = "Past medical history: COPD, GERD; type 2 diabetes, diet controlled."
    copd, gerd = text.index("COPD"), text.index("GERD")
    tagged = [(copd, copd + 4, "DIAGNOSIS"), (gerd, gerd + 4, "DIAGNOSIS")]
    assert joins_list_items(text, (copd, gerd + 4), tagged)
    assert not joins_list_items(text, (gerd, gerd + 4), tagged)
    # a comma inside one condition's words separates no two diagnoses
    dm = text.index("type 2 diabetes")
    dm_tagged = [(dm, dm + 15, "DIAGNOSIS")]
    assert not joins_list_items(text, (dm, len(text) - 1), dm_tagged)
    # two procedures in a list are not the tagger's diagnoses
    assert not joins_list_items(text, (copd, gerd + 4), [(a, b, "PROCEDURE") for a, b, _ in tagged])


def test_a_phrase_the_tagger_completes_is_listed_once_as_the_taggers_mention() -> None:
    """ "chest" (a phrase) and the tagger's "radiograph" together are a chest X-ray's evidence;
    the client's mentions list the tagger's span, not the phrase beside it as a mention of its
    own. A phrase the evidence confirms alone is still listed."""
    from cac.coding.records import Evidence, Mention, Suggestion
    from cac.pipeline import NoteAnalysis, client_mentions
    from cac.ranking.features import NoteContext

    text = "A chest radiograph was clear. Hyporeflexia noted."
    chest, radiograph = (2, 7), (8, 18)
    hypo = (text.index("Hyporeflexia"), text.index("Hyporeflexia") + 12)
    mentions = [
        Mention(*chest, "chest", "PROCEDURE", "present", None),
        Mention(*radiograph, "radiograph", "PROCEDURE", "present", None),
        Mention(*hypo, "Hyporeflexia", "DIAGNOSIS", "present", None),
    ]
    analysis = NoteAnalysis(
        mentions, {}, NoteContext(len(text), frozenset()), tagged={(*radiograph, "PROCEDURE"): 0.9}
    )

    def shown(system: System, code: str, span: tuple[int, int]) -> Suggestion:
        evidence = (Evidence(*span, text[span[0] : span[1]], "mention"),)
        return Suggestion(system, code, "", 0.9, evidence, "present", False, False, True, ())

    suggestions = [
        shown(System.ICD10PCS, "BW03ZZZ", (2, 18)),
        shown(System.ICD10CM, "R29.2", hypo),
    ]
    listed = [(m.text, m.codes) for m in client_mentions(analysis, suggestions)]
    assert listed == [("radiograph", ("BW03ZZZ",)), ("Hyporeflexia", ("R29.2",))]
