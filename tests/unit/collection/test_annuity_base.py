"""The annuity base check: an annuity line whose base is not the basic-pension base of the same
person, period and employer is a finding; findings open, change and resolve as data arrive."""

from __future__ import annotations

from services.collection.domain.annuity_base import (
    Finding,
    PeriodLine,
    Registration,
    compare,
    compare_in_order,
    finding_id,
)

EMPLOYER, PERIOD, PERSON = "91110000600037341L", "2025-03", "150102199001010019"


def line(scheme: str, base_fen: int, person: str = PERSON, declaration: str = "D") -> PeriodLine:
    return PeriodLine(f"{declaration}-{scheme}", scheme, "150100", 1, person, base_fen)


def run(lines: list[PeriodLine], open_: dict[str, Finding] | None = None) -> list[tuple[str, str]]:
    comparison = compare(EMPLOYER, PERIOD, lines, open_ or {}, "prod-2025.1")
    return [(event_type.rsplit(".", 2)[-2], data.get("kind", "")) for event_type, data
            in comparison.events]


def test_equal_bases_are_no_finding() -> None:
    assert run([line("occupational_annuity", 600000), line("institution_basic", 600000)]) == []


def test_a_different_base_is_a_mismatch_naming_both_bases() -> None:
    comparison = compare(EMPLOYER, PERIOD, [line("occupational_annuity", 600000),
                                            line("institution_basic", 550000)], {}, "v")
    [(_, data)] = comparison.events
    assert data["kind"] == "BASE_MISMATCH"
    assert (data["annuity_base"], data["basic_base"]) == ("6000.00", "5500.00")
    assert data["finding_id"] == finding_id(EMPLOYER, PERIOD, PERSON)


def test_no_basic_pension_line_yet_is_a_missing_finding() -> None:
    assert run([line("occupational_annuity", 600000)]) == [("finding", "BASIC_PENSION_MISSING")]


def test_a_finding_already_open_with_the_same_figures_is_not_repeated() -> None:
    first = compare(EMPLOYER, PERIOD, [line("occupational_annuity", 600000)], {}, "v").opened
    assert run([line("occupational_annuity", 600000)], {PERSON: first[0]}) == []


def test_a_missing_finding_becomes_a_mismatch_then_resolves_as_data_arrive() -> None:
    [missing] = compare(EMPLOYER, PERIOD, [line("occupational_annuity", 600000)], {}, "v").opened
    changed = compare(EMPLOYER, PERIOD, [line("occupational_annuity", 600000),
                                         line("institution_basic", 500000)],
                      {PERSON: missing}, "v")
    assert [data["kind"] for _, data in changed.events] == ["BASE_MISMATCH"]
    resolved = compare(EMPLOYER, PERIOD, [line("occupational_annuity", 600000),
                                          line("institution_basic", 600000, declaration="R")],
                       {PERSON: changed.opened[0]}, "v")
    assert resolved.resolved == [(missing.finding_id, 600000)]
    assert [event_type.rsplit(".", 2)[-2] for event_type, _ in resolved.events] == ["resolved"]


def test_a_finding_whose_annuity_line_is_gone_resolves_with_no_base() -> None:
    [missing] = compare(EMPLOYER, PERIOD, [line("occupational_annuity", 600000)], {}, "v").opened
    gone = compare(EMPLOYER, PERIOD, [], {PERSON: missing}, "v")
    assert gone.resolved == [(missing.finding_id, None)]
    assert gone.events[0][1]["base"] is None


def test_basic_pension_lines_without_an_annuity_line_are_not_findings() -> None:
    assert run([line("institution_basic", 600000, person="152921199001010013")]) == []


def registered(scheme: str, base_fen: int, cause: int) -> Registration:
    return Registration(EMPLOYER, PERIOD, f"D-{scheme}", (line(scheme, base_fen),), cause)


def test_registrations_of_one_segment_compare_as_if_each_came_in_a_batch_of_its_own() -> None:
    """An annuity line, then an equal basic-pension line: in one batch as in two, the finding
    opens with the first and resolves with the second (the segment used to be compared once,
    at its end, and published nothing)."""
    pair = (EMPLOYER, PERIOD)
    events, stored = compare_in_order(
        [registered("occupational_annuity", 600000, 3), registered("institution_basic",
                                                                   600000, 7)], {}, {}, "v")
    assert [(cause, event_type.rsplit(".", 2)[-2]) for cause, event_type, _ in events] == [
        (3, "finding"), (7, "resolved")]
    first = compare(*pair, [line("occupational_annuity", 600000)], {}, "v")
    second = compare(*pair, [line("occupational_annuity", 600000),
                             line("institution_basic", 600000)],
                     {PERSON: first.opened[0]}, "v")
    assert [data for _, _, data in events] == [data for _, data in first.events + second.events]
    assert stored.opened == first.opened
    assert stored.resolved == [(finding_id(EMPLOYER, PERIOD, PERSON), None)]


def test_a_finding_open_before_the_segment_and_still_open_is_not_stored_as_resolved() -> None:
    [missing] = compare(EMPLOYER, PERIOD, [line("occupational_annuity", 600000)], {}, "v").opened
    events, stored = compare_in_order(
        [registered("institution_basic", 550000, 0)],
        {(EMPLOYER, PERIOD): [line("occupational_annuity", 600000)]},
        {(EMPLOYER, PERIOD): {PERSON: missing}}, "v")
    assert [data["kind"] for _, _, data in events] == ["BASE_MISMATCH"]
    assert stored.resolved == []
    assert [f.kind for f in stored.opened] == ["BASE_MISMATCH"]
