"""The fault suite's checker finds what it is there to find: a fact answered twice, a duplicate
with other content, a dead letter that lost its record, a split that does not add up, an identity
number in a log line (so a green fault run means the invariants held, not that nothing looked)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.contracts.topology import TOPICS
from shared.messaging import Record
from tests.faults import invariants
from tests.faults.invariants import Namespace, Verdict

NS = "tx"


def _event(topic: str, event_id: str, event_type: str, data: dict[str, Any], offset: int,
           time: str = "2026-01-01T00:00:00+08:00") -> Record:
    value = json.dumps({"specversion": "1.0", "id": event_id, "source": "/collection",
                        "type": event_type, "time": time, "data": data},
                       separators=(",", ":")).encode()
    return Record(topic, 0, offset, b"K", value, ())


def _namespace(**records: list[Record]) -> Namespace:
    topics: dict[str, list[Record]] = {t.name: [] for t in TOPICS}
    topics.update({f"{service}.dlq": [] for service in invariants.SERVICE_NAMES})
    return Namespace(NS, {**topics, **{k.replace("__", "."): v for k, v in records.items()}})


def test_a_declaration_answered_by_two_event_ids_is_a_problem() -> None:
    declared = _event("tax.contribution.declarations", "in-1", "tax.contribution.declared.v1",
                      {"declaration_id": "D-1", "revision": 0}, 0)
    answers = [_event("collection.declarations", f"out-{n}",
                      "collection.declaration.registered.v1",
                      {"declaration_id": "D-1", "revision": 0}, n) for n in (1, 2)]
    verdict = Verdict()
    namespace = _namespace(tax__contribution__declarations=[declared],
                           collection__declarations=answers)
    invariants._answers(namespace, verdict)
    invariants._facts_once(namespace, verdict)
    assert any("I1_declaration_answered_once" in p for p in verdict.problems)
    assert any("I2_fact_stated_once" in p for p in verdict.problems)
    verdict = Verdict()
    invariants._answers(_namespace(tax__contribution__declarations=[declared],
                                   collection__declarations=answers[:1]), verdict)
    assert verdict.problems == []
    assert verdict.checked["I1_declaration_answered_once"] == 1


def test_a_duplicate_with_other_content_is_a_problem_and_another_time_is_not() -> None:
    data = {"declaration_id": "D-1", "revision": 0}
    first = _event("collection.declarations", "e", "collection.declaration.registered.v1",
                   data, 0)
    later = _event("collection.declarations", "e", "collection.declaration.registered.v1",
                   data, 1, time="2027-01-01T00:00:00+08:00")
    other = _event("collection.declarations", "e", "collection.declaration.registered.v1",
                   {**data, "revision": 1}, 2)
    verdict = Verdict()
    invariants._duplicates_identical(_namespace(collection__declarations=[first, later]),
                                     verdict)
    assert verdict.problems == []
    invariants._duplicates_identical(_namespace(collection__declarations=[first, other]),
                                     verdict)
    assert any("I4_duplicate_identical" in p for p in verdict.problems)


def test_a_dead_letter_that_lost_its_record_or_never_came_is_a_problem() -> None:
    bad = Record("tax.contribution.declarations", 0, 5, b"K", b"{not json",
                 (("content-type", b"x"),))
    headers = (("content-type", b"x"), ("x-dlq-reason", b"NOT_JSON"),
               ("x-original-topic", f"{NS}.tax.contribution.declarations".encode()),
               ("x-original-partition", b"0"), ("x-original-offset", b"5"),
               ("x-consumer-group", b"collection_tx"), ("x-failed-at", b"t"))
    kept = Record("collection.dlq", 0, 0, b"K", b"{not json", headers)
    changed = Record("collection.dlq", 0, 0, b"K", b"{other", headers)
    for letters, problem in (([kept], None), ([changed], "I5_dead_letter_keeps_the_record"),
                             ([], "I1_unreadable_dead_lettered")):
        verdict = Verdict()
        invariants._dead_letters(_namespace(tax__contribution__declarations=[bad],
                                            collection__dlq=letters), verdict)
        assert (problem is None) == (verdict.problems == []), (problem, verdict.problems)
        assert problem is None or any(problem in p for p in verdict.problems)


def test_splits_that_do_not_add_up_are_problems() -> None:
    assessed = _event("annuity.ledger", "a", "annuity.interest_topup.assessed.v1",
                      {"assessment_id": "T-1", "total": "1.00",
                       "members": [{"person_id": "p1", "interest": "0.60"},
                                   {"person_id": "p2", "interest": "0.40"}]}, 0)
    allocated = _event("annuity.ledger", "b", "annuity.interest_topup.allocated.v1",
                       {"assessment_id": "T-1", "amount_funded": "1.00",
                        "allocations": [{"person_id": "p1", "amount": "0.60"},
                                        {"person_id": "p1", "amount": "0.39"}]}, 1)
    verdict = Verdict()
    invariants._splits(_namespace(annuity__ledger=[assessed, allocated]), verdict)
    assert any("I7_allocation_sums_to_funded" in p for p in verdict.problems)
    assert any("I7_one_allocation_per_member" in p for p in verdict.problems)
    assert not any("I7_interest_sums_to_total" in p for p in verdict.problems)


def test_an_identity_number_in_a_log_line_is_a_problem(tmp_path: Path) -> None:
    log = tmp_path / "collection.log"
    log.write_text('{"event": "batch.handled"}\n{"person": "1501**********0019"}\n')
    verdict = Verdict()
    invariants._logs([log], {"150102199001010019"}, verdict)
    assert verdict.problems == []
    assert verdict.checked["I9_log_lines"] == 2
    log.write_text('{"detail": "line 3 person 150102199001010019 invalid"}\n')
    invariants._logs([log], set(), verdict)
    assert verdict.problems == ["I9: collection.log:1 carries an identity number"]


def test_a_second_notice_for_one_request_and_attempt_or_an_unasked_replacement_is_a_problem(
) -> None:
    def issued(notice_id: str, attempt: int, replaces: str | None, offset: int) -> Record:
        return _event("transfer.notices", f"ev-{notice_id}", "transfer.notice.issued.v1",
                      {"notice_id": notice_id, "attempt": attempt, "covers": ["R-1"],
                       "replaces": replaces}, offset)

    failed = _event("transfer.notices", "ev-f", "transfer.notice.failed.v1",
                    {"notice_id": "N-0", "replaced_by": "N-1"}, 9)
    verdict = Verdict()
    invariants._notices_once(_namespace(transfer__notices=[
        issued("N-0", 0, None, 0), failed, issued("N-1", 1, "N-0", 1)]), verdict)
    assert verdict.problems == []
    invariants._notices_once(_namespace(transfer__notices=[
        issued("N-0", 0, None, 0), issued("N-X", 0, None, 1), issued("N-1", 1, "N-0", 2)]),
        verdict)
    assert any("I2_one_notice_per_attempt" in p for p in verdict.problems)
    assert any("I2_replacement_replaces_a_failed_notice" in p for p in verdict.problems)


def test_an_identity_number_in_a_metric_label_is_a_problem_and_a_long_sample_value_is_not(
) -> None:
    verdict = Verdict()
    invariants._metric_labels(
        {"collection": 'pension_batch_duration_seconds_sum{service="x"} 0.029235402998892823'},
        {"150102199001010019"}, verdict)
    assert verdict.problems == []
    assert verdict.checked["I9_metric_labels"] == 1
    invariants._metric_labels(
        {"collection": 'pension_business_gauge{name="p150102199001010019"} 1'}, set(), verdict)
    assert len(verdict.problems) == 1
