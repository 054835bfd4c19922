"""The curation lists (graph_schemas/curation/) and the name normalisation the open-world rules compare with."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgsynth.errors import KgsynthError
from kgsynth.questions import curation
from kgsynth.questions.curation import display_name, load_curation, norm_name


def test_shipped_curation_list_loads_and_covers_the_known_incidental_classes() -> None:
    cur = load_curation("med")
    assert "HP:0000006" in cur.mendelian_modes and "Physiologic Effect" in cur.incidental_class_types
    import re

    patterns = [re.compile(p, re.IGNORECASE) for p in cur.incidental_class_patterns]
    for name in ("Cytochrome P450 3A4 Inducers", "P-Glycoprotein Inhibitors", "orphan drug",
                 "Organic Anion Transporting Polypeptide 1B1 Inhibitors"):  # fmt: skip
        assert any(p.fullmatch(name) for p in patterns), name
    for name in ("Sodium-Glucose Transporter 2 Inhibitors", "Vesicular Monoamine Transporter 2 Inhibitors"):
        assert not any(p.fullmatch(name) for p in patterns), name  # therapeutic classes stay


def test_names_compare_across_vocabularies() -> None:
    assert norm_name("Dermatologic Agents") == norm_name("dermatologic drug")
    assert norm_name("Anti-Arrhythmia Agents") == norm_name("anti-arrhythmia agent")
    assert norm_name("Cytochrome P450 3A Inducers") != norm_name("Cytochrome P450 3A4 Inducers")
    assert norm_name("Kidney Diseases") == norm_name("kidney disease")


def test_options_share_one_casing_style() -> None:
    assert display_name("Dermatologic Agents") == "Dermatologic agents"
    assert display_name("dermatologic drug") == "Dermatologic drug"
    assert display_name("KCNQ1") == "KCNQ1"
    assert display_name("Parkinson disease") == "Parkinson disease"


def test_invalid_curation_list_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\nincidental_class_patterns: ['(unclosed']\n")
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    monkeypatch.setattr(curation, "curation_dir", lambda: tmp_path)
    load_curation.cache_clear()
    try:
        with pytest.raises(KgsynthError, match=r"bad.yaml: not a valid curation list"):
            load_curation("bad")
        with pytest.raises(KgsynthError, match=r"broken.yaml:\d+: not valid YAML"):
            load_curation("broken")
    finally:
        load_curation.cache_clear()


def test_non_therapeutic_vocabulary_is_found_by_tree_role_and_name(real_graph) -> None:
    from kgsynth.questions.curation import non_therapeutic_mask

    g = real_graph
    mask = non_therapeutic_mask(g, load_curation("med"))
    flagged = {g.names[i] for i in range(g.num_nodes) if mask[i]}
    # MeSH by tree (below Specialty Uses of Chemicals), ChEBI by role id, NDFRT by its "... Activity" name
    for name in ("Contrast Media", "Solvents", "Explosive Agents", "Mouthwashes", "Cosmetics",
                 "food anticaking agent", "histological dye", "insect sterilant", "Osmotic Activity"):  # fmt: skip
        assert name in flagged, name
    # therapeutic classes stay, also where MeSH files them under a specialty use too (Antidotes)
    for name in ("Anti-Arrhythmia Agents", "Antidotes", "Iron Chelating Agents", "antifungal drug", "anticoagulant"):
        assert name not in flagged, name
    # a drug whose every class is non-therapeutic (a contrast agent) is flagged; one with a use is not
    assert g.names[g.index["DRUGBANK:DB00502"]] not in flagged  # haloperidol


def test_a_class_membership_the_drugs_targets_contradict_is_found(real_graph) -> None:
    from kgsynth.questions.curation import contradicted_memberships

    g = real_graph
    bad = contradicted_memberships(g, load_curation("med"))
    sl = g.relation_slice("biolink:member_of")
    pairs = {(g.names[int(g.src[e])], g.names[int(g.dst[e])]) for e in range(sl.start, sl.stop) if bad[e]}
    assert ("Risedronate", "Calcium Channel Blockers") in pairs  # a bisphosphonate: FDPS, not a calcium channel
    assert ("Amlodipine", "Calcium Channel Blockers") not in pairs
    assert 0 < len(pairs) < 0.02 * (sl.stop - sl.start)  # a few memberships, not a vocabulary
