"""Hostile and malformed records, on the real broker and database, each get the contract's answer
(a rejection with its codes, or a dead letter with its reason and the original record) and never
stop a service: a valid event sent right after each one is handled as usual.

All three services run in one namespace; every case is published once (module fixture), followed
at once by a valid event on the same topic and key, then each test checks its own case."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest

from services.collection import app as collection_app
from services.fund_transfer import app as fund_transfer_app
from services.occupational_annuity import app as annuity_app
from shared.contracts import finance
from shared.contracts.export import event_models
from shared.money import format_yuan, parse_yuan
from tests.support import (
    Received,
    cloudevent,
    connect_db,
    create_namespace,
    publish_each,
    read_to_end,
    service_running,
)
from tests.unit.collection import factory

pytestmark = pytest.mark.usefixtures("stack_env")

DECLARED = "tax.contribution.declared.v1"
PAID = "tax.contribution.paid.v1"
DECLARATIONS = "tax.contribution.declarations"
PAYMENTS = "tax.contribution.payments"
DEADLINE = "ops.deadline_check.requested.v1"
REGISTERED = "collection.declaration.registered.v1"
MIB = 1024 * 1024
SERVICES = ("collection", "fund_transfer", "occupational_annuity")


@dataclass
class Case:
    """One hostile record, where it goes and what must come back for it."""

    name: str
    topic: str
    value: bytes | None
    key: bytes = b"91110000600037341L"
    compression: str | None = None
    dead: dict[str, str] = field(default_factory=dict)  # service -> x-dlq-reason
    rejected: dict[str, str] = field(default_factory=dict)  # answer type -> service
    codes: frozenset[str] = frozenset()  # the exact codes of the rejection's reasons
    check: Callable[[dict[str, Any]], None] | None = None  # more about the rejection
    answer_id: str = ""  # the correlation id its answers carry (the record's event id)


def event_id() -> str:
    return f"E-{uuid.uuid4().hex}"


def declared(data: dict[str, Any] | None = None, **attributes: Any) -> tuple[bytes, str]:
    id_ = attributes.pop("id", None) or event_id()
    return cloudevent(DECLARED, data or factory.declaration(), event_id=id_, **attributes), id_


def declared_with(raw_field: str, raw_json: bytes) -> tuple[bytes, str]:
    """A declaration whose field `raw_field` holds `raw_json` exactly as written on the wire."""
    data = factory.declaration()
    data[raw_field] = "@@RAW@@"
    value, id_ = declared(data)
    return value.replace(b'"@@RAW@@"', raw_json), id_


def compact(made: tuple[bytes, str]) -> tuple[bytes, str]:
    """The same event without the spaces json.dumps puts after commas and colons."""
    value, id_ = made
    return json.dumps(json.loads(value), ensure_ascii=False, separators=(",", ":")).encode(), id_


def with_line(**changes: Any) -> tuple[bytes, str]:
    data = factory.declaration()
    data["lines"][0].update(changes)
    return declared(data)


def rejected_declaration(name: str, made: tuple[bytes, str], *codes: str,
                         check: Callable[[dict[str, Any]], None] | None = None,
                         answer: str = "collection.declaration.rejected.v1") -> Case:
    value, id_ = made
    return Case(name, DECLARATIONS, value, rejected={answer: "collection"},
                codes=frozenset(codes), check=check, answer_id=id_)


def dead_declaration(name: str, value: bytes | None, reason: str, **extra: Any) -> Case:
    return Case(name, DECLARATIONS, value, dead={"collection": reason}, **extra)


def many_reasons(rejection: dict[str, Any]) -> None:
    reasons = rejection["data"]["reasons"]
    assert len(reasons) == 1000
    assert reasons[-1]["code"] == "TOO_MANY_REASONS"
    assert reasons[-1]["field"] is None
    assert reasons[-1]["message"].endswith("more reasons not listed")


def collection_cases() -> list[Case]:
    big = factory.declaration()
    big["padding"] = ""
    envelope = cloudevent(DECLARED, big)
    big["padding"] = "x" * (4_494_304 - len(envelope))  # 4,494,304 bytes in all, as reported
    empty_lines = factory.declaration()
    empty_lines["lines"] = [{}] * 1_300_000
    unknown = factory.declaration(bases=("6000.00",) * 5000)
    for line in unknown["lines"]:
        line.update({f"unknown_{k:02d}": "v" for k in range(30)})
    large_valid = factory.declaration(bases=("24537.00",) * 5000)
    for line in large_valid["lines"]:
        line["person_name"] = "某" * 100
    deep = factory.declaration()
    deep["lines"][0]["nested"] = json.loads("[" * 40 + "]" * 40)
    valid, _ = declared()
    return [
        dead_declaration("a lone surrogate in declaration_id",
                         declared_with("declaration_id", b'"D-\\ud800"')[0], "NOT_JSON"),
        dead_declaration("4.5 MB value sent compressed", cloudevent(DECLARED, big), "TOO_LARGE",
                         compression="gzip"),
        rejected_declaration("1.3 million empty lines in 3.9 MB",
                             compact(declared(empty_lines)), "TOO_MANY_LINES"),
        rejected_declaration("5,000 lines with 30 unknown fields each", declared(unknown),
                             "FIELD_INVALID", "TOO_MANY_REASONS", check=many_reasons),
        dead_declaration("a NUL in the envelope id", declared(id="E-\u0000-1")[0],
                         "NOT_CLOUDEVENT"),
        dead_declaration("a NUL in the envelope source", declared(source="/tax/\u0000")[0],
                         "NOT_CLOUDEVENT"),
        dead_declaration("a bell character in subject", declared(subject="a\u0007b")[0],
                         "NOT_CLOUDEVENT"),
        dead_declaration("an envelope id of 3,000 characters", declared(id="E" * 3000)[0],
                         "NOT_CLOUDEVENT"),
        rejected_declaration("a NUL in employer_name",
                             declared(factory.declaration(employer_name="某\u0000公司")),
                             "FIELD_INVALID"),
        rejected_declaration("a control character in person_name",
                             with_line(person_name="张\u0007三"), "FIELD_INVALID"),
        dead_declaration("not JSON", b"declaration: yes", "NOT_JSON"),
        dead_declaration("truncated", valid[: len(valid) // 2], "NOT_JSON"),
        dead_declaration("not UTF-8", valid.replace(b'"scheme"', b'"sch\xffeme"'), "NOT_JSON"),
        dead_declaration("an empty value", b"", "EMPTY_VALUE"),
        dead_declaration("a null value", None, "EMPTY_VALUE"),
        dead_declaration("JSON that is not a CloudEvent", b'{"declaration_id": "D-1"}',
                         "NOT_CLOUDEVENT"),
        dead_declaration("an unknown type", cloudevent("tax.contribution.declared.v9",
                                                       factory.declaration()), "UNKNOWN_TYPE"),
        rejected_declaration("a missing field",
                             declared({k: v for k, v in factory.declaration().items()
                                       if k != "scheme"}), "FIELD_INVALID"),
        rejected_declaration("an extra field", declared(factory.declaration(extra=1)),
                             "FIELD_INVALID"),
        dead_declaration("duplicate JSON keys",
                         valid.replace(b'"revision": 0', b'"revision": 0, "revision": 1'),
                         "NOT_JSON"),
        dead_declaration("NaN", valid.replace(b'"revision": 0', b'"revision": NaN'),
                         "NOT_JSON"),
        dead_declaration("Infinity", valid.replace(b'"revision": 0', b'"revision": Infinity'),
                         "NOT_JSON"),
        rejected_declaration("money as a JSON number", with_line(base=6000.00),
                             "AMOUNT_INVALID"),
        *(rejected_declaration(f"money written {text!r}", with_line(base=text), "AMOUNT_INVALID")
          for text in ("6000.000", "-6000.00", "6,000.00", "６０００.００", "1234567890123.00")),
        rejected_declaration("the date 2025-02-30",
                             declared(factory.declaration(declared_on="2025-02-30")),
                             "DATE_INVALID"),
        rejected_declaration("the period 2025-13",
                             declared(factory.declaration(fee_period="2025-13")),
                             "PERIOD_INVALID"),
        dead_declaration("a timestamp without offset", declared(time="2025-03-12T10:00:00")[0],
                         "NOT_CLOUDEVENT"),
        *(rejected_declaration(f"identity number {why}", with_line(person_id=person_id),
                               "PERSON_ID_INVALID")
          for why, person_id in (("with a bad check character", "150102199001010018"),
                                 ("with a lower-case x", "11010519491231002x"),
                                 ("with a Cyrillic Х", "11010519491231002Х"),
                                 ("with a zero-width space", "1501021990\u200b01010019"),
                                 ("with full-width digits", "１50102199001010019"))),
        rejected_declaration("a USCC with I", declared(factory.declaration(
            employer_uscc="9111000060003734IL")), "EMPLOYER_USCC_INVALID"),
        rejected_declaration("a region outside Inner Mongolia",
                             declared(factory.declaration(region_code="110101")),
                             "REGION_UNKNOWN"),
        rejected_declaration("5,001 lines",
                             declared(factory.declaration(bases=("6000.00",) * 5001)),
                             "TOO_MANY_LINES"),
        rejected_declaration("a valid value over 2 MB", declared(large_valid),
                             answer=REGISTERED),
        dead_declaration("deeply nested JSON", declared(deep)[0], "NOT_JSON"),
        dead_declaration("a 5,000-digit integer",
                         valid.replace(b'"revision": 0', b'"revision": ' + b"7" * 5000),
                         "NOT_JSON"),
    ]


def appropriation(**changes: Any) -> dict[str, Any]:
    return {"appropriation_id": f"A-{uuid.uuid4().hex[:12]}", "fiscal_entity_code": "150200",
            "fund": "institution_basic_pension", "period": "2099-01", "amount_due": "1.00",
            "due_on": "2099-01-31", "document_no": "包财社〔2099〕1号"} | changes


def finance_event(event_type: str, data: dict[str, Any], **attributes: Any) -> tuple[bytes, str]:
    id_ = attributes.pop("id", None) or event_id()
    return cloudevent(event_type, data, source="/finance/150200", event_id=id_,
                      **attributes), id_


def rejected_appropriation(name: str, made: tuple[bytes, str], *codes: str,
                           check: Callable[[dict[str, Any]], None] | None = None) -> Case:
    value, id_ = made
    return Case(name, finance.TOPIC_APPROPRIATIONS, value, key=b"150200",
                rejected={"transfer.appropriation.rejected.v1": "fund_transfer"},
                codes=frozenset(codes), check=check, answer_id=id_)


def fund_transfer_cases() -> list[Case]:
    raw, _ = finance_event(finance.APPROPRIATED, appropriation(document_no="@@RAW@@"))
    settlement = {"settlement_id": f"S-{uuid.uuid4().hex[:12]}", "notice_id": "N-1",
                  "amount_settled": "1.00", "value_date": "2099-01-30",
                  "bank_reference": "BR\u00001"}
    settled_value, settled_id = finance_event(finance.SETTLED, settlement)
    return [
        Case("a lone surrogate in document_no", finance.TOPIC_APPROPRIATIONS,
             raw.replace(b'"@@RAW@@"', b'"\\udc00"'), key=b"150200",
             dead={"fund_transfer": "NOT_JSON"}),
        rejected_appropriation("a NUL in appropriation_id", finance_event(
            finance.APPROPRIATED, appropriation(appropriation_id="A-\u0000")), "FIELD_INVALID"),
        rejected_appropriation("a NUL in document_no", finance_event(
            finance.APPROPRIATED, appropriation(document_no="包\u0000")), "FIELD_INVALID"),
        rejected_appropriation("an appropriation_id of 3,000 characters", finance_event(
            finance.APPROPRIATED, appropriation(appropriation_id="A" * 3000)), "FIELD_INVALID"),
        rejected_appropriation("250,000 unknown fields", finance_event(
            finance.APPROPRIATED, appropriation(**{f"k{i}": 0 for i in range(250_000)})),
            "FIELD_INVALID", "TOO_MANY_REASONS", check=many_reasons),
        rejected_appropriation("an amount as a JSON number", finance_event(
            finance.APPROPRIATED, appropriation(amount_due=1)), "AMOUNT_INVALID"),
        Case("an envelope id of 3,000 characters", finance.TOPIC_APPROPRIATIONS,
             finance_event(finance.APPROPRIATED, appropriation(), id="E" * 3000)[0],
             key=b"150200", dead={"fund_transfer": "NOT_CLOUDEVENT"}),
        Case("a NUL in a settlement's bank_reference", finance.TOPIC_SETTLEMENTS,
             settled_value, key=b"150200",
             rejected={"transfer.settlement.rejected.v1": "fund_transfer"},
             codes=frozenset({"FIELD_INVALID"}), answer_id=settled_id),
    ]


def shared_cases() -> list[Case]:
    """Records every service reads (ops.commands) or the annuity service reads from its peers."""
    command = cloudevent(DEADLINE, {"command_id": "C-1", "as_of": "@@RAW@@"}, source="/ops/cli")
    unknown_id = event_id()
    registered = cloudevent(REGISTERED, {"declaration_id": "D-\u0000", "revision": 0,
                                         "scheme": "occupational_annuity",
                                         "fiscal_entity_code": "15\u00000", "lines": []})
    return [
        Case("a lone surrogate in a command", "ops.commands",
             command.replace(b'"@@RAW@@"', b'"\\ud800"'), key=b"all",
             dead=dict.fromkeys(SERVICES, "NOT_JSON")),
        Case("a command with 250,000 unknown fields", "ops.commands",
             cloudevent(DEADLINE, {"command_id": "C-2", "as_of": "2099-01-01",
                                   **{f"k{i}": 0 for i in range(250_000)}},
                        source="/ops/cli", event_id=unknown_id),
             key=b"all", rejected={f"ops.command.rejected.v1/{s}": s for s in SERVICES},
             codes=frozenset({"FIELD_INVALID", "TOO_MANY_REASONS"}), check=many_reasons,
             answer_id=unknown_id),
        Case("a lone surrogate on collection.declarations", "collection.declarations",
             registered.replace(b'"D-\\u0000"', b'"D-\\ud800"'),
             dead={"occupational_annuity": "NOT_JSON"}),
        Case("an envelope id of 3,000 characters on transfer.notices", "transfer.notices",
             cloudevent("transfer.notice.settled.v1", {"notice_id": "N-1"}, event_id="E" * 3000),
             key=b"150200", dead={"occupational_annuity": "NOT_CLOUDEVENT"}),
    ]


@dataclass
class Answers:
    """What came back: dead letters by service and original position, events by correlation."""

    namespace: str
    positions: dict[str, tuple[int, int]]
    dead: dict[tuple[str, str, int, int], Received]
    by_correlation: dict[str, list[dict[str, Any]]]
    follow_ups: dict[str, str]  # case name -> id of the valid event sent right after it
    cases: dict[str, Case]


def follow_up_declaration() -> tuple[bytes, str]:
    data = factory.declaration()
    return cloudevent(DECLARED, data), data["declaration_id"]


async def send_all(namespace: str, cases: list[Case]) -> tuple[dict[str, tuple[int, int]],
                                                             dict[str, str]]:
    """Each case, then at once a valid event on the same topic and key (what follows it)."""
    positions: dict[str, tuple[int, int]] = {}
    follow_ups: dict[str, str] = {}
    for case in cases:
        [positions[case.name]] = await publish_each(f"{namespace}.{case.topic}",
                                                    [(case.key, case.value)],
                                                    compression=case.compression)
        if case.topic == DECLARATIONS:
            value, follow_ups[case.name] = follow_up_declaration()
            await publish_each(f"{namespace}.{DECLARATIONS}", [(case.key, value)])
        elif case.topic == finance.TOPIC_APPROPRIATIONS:
            data = appropriation()
            follow_ups[case.name] = data["appropriation_id"]
            await publish_each(f"{namespace}.{case.topic}",
                               [(case.key, finance_event(finance.APPROPRIATED, data)[0])])
    return positions, follow_ups


async def annuity_follow_up(namespace: str) -> str:
    """A valid annuity declaration paid in full, through collection into the annuity ledger."""
    data = factory.declaration(scheme="occupational_annuity")
    due_fen = sum(parse_yuan(line["employer_amount"]) + parse_yuan(line["employee_amount"])
                  for line in data["lines"])
    pay = factory.payment(data["declaration_id"], format_yuan(due_fen))
    key = data["employer_uscc"].encode()
    await publish_each(f"{namespace}.{DECLARATIONS}", [(key, cloudevent(DECLARED, data))])
    await publish_each(f"{namespace}.{PAYMENTS}", [(key, cloudevent(PAID, pay))])
    return str(data["declaration_id"])


@pytest.fixture(scope="module")
async def answers() -> AsyncIterator[Answers]:
    namespace = await create_namespace()
    cases = [*collection_cases(), *fund_transfer_cases(), *shared_cases()]
    async with AsyncExitStack() as running:
        for spec in (collection_app.spec(), fund_transfer_app.spec(), annuity_app.spec()):
            await running.enter_async_context(service_running(spec, namespace))
        positions, follow_ups = await send_all(namespace, cases)
        credited = await annuity_follow_up(namespace)
        yield await collect(namespace, cases, positions, follow_ups, credited)


ANSWER_TOPICS = ("collection.declarations", "transfer.notices", "transfer.obligations",
                 "annuity.ledger", "ops.commands")


async def collect(namespace: str, cases: list[Case], positions: dict[str, tuple[int, int]],
                  follow_ups: dict[str, str], credited: str) -> Answers:
    """Read the answer topics and dead-letter topics until every expected answer is there."""
    answers = Answers(namespace, positions, {}, {}, {**follow_ups, "annuity credit": credited},
                      {c.name: c for c in cases})
    for _ in range(60):  # bounded: about a minute of rounds
        answers.dead = {
            (service, r.headers["x-original-topic"].decode(),
             int(r.headers["x-original-partition"]), int(r.headers["x-original-offset"])): r
            for service in SERVICES for r in await read_to_end(f"{namespace}.{service}.dlq")
        }
        answers.by_correlation = {}
        for topic in ANSWER_TOPICS:
            for r in await read_to_end(f"{namespace}.{topic}"):
                for key in {r.event.get("correlationid"), *_entity_ids(r.event)}:
                    answers.by_correlation.setdefault(str(key), []).append(r.event)
        if _complete(answers):
            break
        await asyncio.sleep(1)
    return answers


def _complete(answers: Answers) -> bool:
    for case in answers.cases.values():
        topic = f"{answers.namespace}.{case.topic}"
        if any((service, topic, *answers.positions[case.name]) not in answers.dead
               for service in case.dead):
            return False
        if case.answer_id and case.answer_id not in answers.by_correlation:
            return False
    return all(id_ in answers.by_correlation for id_ in answers.follow_ups.values())


def _entity_ids(event: dict[str, Any]) -> list[str]:
    data = event.get("data", {})
    found = [data.get("declaration_id"), *data.get("covers", ())]
    return [value for value in found if isinstance(value, str)]


def case_names() -> list[str]:
    return [c.name for c in (*collection_cases(), *fund_transfer_cases(), *shared_cases())]


@pytest.mark.parametrize("name", case_names())
async def test_each_hostile_record_gets_its_answer_and_the_next_valid_one_is_handled(
    answers: Answers, name: str,
) -> None:
    case = answers.cases[name]
    partition, offset = answers.positions[name]
    original_topic = f"{answers.namespace}.{case.topic}"
    for service, reason in case.dead.items():
        letter = answers.dead.get((service, original_topic, partition, offset))
        assert letter is not None, f"no dead letter in {service}.dlq"
        assert letter.headers["x-dlq-reason"].decode() == reason
        assert letter.value == (case.value or b"")  # the original record, whole
        assert letter.key == case.key
        assert letter.headers["content-type"] == b"application/cloudevents+json"
    answered = [e for e in answers.by_correlation.get(case.answer_id, [])
                if e.get("correlationid") == case.answer_id] if case.answer_id else []
    for answer_type, service in case.rejected.items():
        event_type = answer_type.split("/")[0]
        found = [e for e in answered if e["type"] == event_type
                 and (event_type != "ops.command.rejected.v1" or e["data"]["service"] == service)]
        assert len(found) == 1, f"{event_type} from {service}: {[e['type'] for e in answered]}"
        event_models()[event_type].model_validate(found[0]["data"])  # the contract, exactly
        if case.codes:
            assert {r["code"] for r in found[0]["data"]["reasons"]} == case.codes
        if case.check is not None:
            case.check(found[0])
        assert len(json.dumps(found[0], ensure_ascii=False).encode()) <= MIB
    follow_up = answers.follow_ups.get(name)
    if follow_up is not None:
        assert follow_up in answers.by_correlation, "the valid event right after it was lost"


async def test_every_service_is_ready_and_the_annuity_ledger_credited_after_all_of_them(
    answers: Answers,
) -> None:
    credited = answers.follow_ups["annuity credit"]
    assert "annuity.contribution.credited.v1" in {
        e["type"] for e in answers.by_correlation.get(credited, [])}
    for service in SERVICES:
        conn = await connect_db(f"{service}_{answers.namespace}")
        try:
            assert await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
            assert await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE set_aside_at IS NOT NULL") == 0
        finally:
            await conn.close()
