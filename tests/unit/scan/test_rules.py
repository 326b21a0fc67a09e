"""Every shipped rule fires on its positive cases and stays quiet on its negatives."""

from __future__ import annotations

import pytest

from runsurge.scan import Finding, Ruleset, SemgrepCoreEngine
from runsurge.scan.ruleset import ENGINE_RULES

from .conftest import scan_batch
from .rule_cases import RULE_CASES

CASES = [
    (rule_id, kind, index, snippet)
    for rule_id, (positives, negatives) in RULE_CASES.items()
    for kind, snippets in (("positive", positives), ("negative", negatives))
    for index, snippet in enumerate(snippets)
]


@pytest.fixture(scope="module")
def case_findings(engine: SemgrepCoreEngine) -> dict[str, list[Finding]]:
    sources = {f"{r}:{k}:{i}": s.encode() for r, k, i, s in CASES}
    return scan_batch(engine, sources)


def test_every_rule_has_positive_and_negative_cases() -> None:
    shipped = Ruleset.packaged().rule_ids
    assert set(RULE_CASES) == shipped
    for rule_id, (positives, negatives) in RULE_CASES.items():
        assert positives and negatives, rule_id


def test_rule_ids_are_namespaced_by_family_file() -> None:
    ruleset = Ruleset.packaged()
    for path in ruleset.files:
        family = path.stem
        ids = [r for r in ruleset.rule_ids if r.split(".")[1] == family]
        assert ids, f"{path.name} defines no runsurge.{family}.* rule"
    assert all(r.split(".")[1] in {p.stem for p in ruleset.files} for r in ruleset.rule_ids)
    assert not ENGINE_RULES & ruleset.rule_ids


@pytest.mark.parametrize(
    ("rule_id", "kind", "index", "snippet"),
    CASES,
    ids=[f"{r}-{k}{i}" for r, k, i, _ in CASES],
)
def test_rule_case(
    case_findings: dict[str, list[Finding]], rule_id: str, kind: str, index: int, snippet: str
) -> None:
    found = {f.rule_id for f in case_findings[f"{rule_id}:{kind}:{index}"]}
    if kind == "positive":
        assert rule_id in found, f"{rule_id} missed:\n{snippet}"
    else:
        assert rule_id not in found, f"{rule_id} false positive:\n{snippet}"
