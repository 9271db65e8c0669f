"""`pension-ops` works against the real broker: commands it publishes are well-formed, dead
letters go back where they came from intact, trace and report read exactly the events on the
namespace topics, status and wait-idle see a consumer group's lag; the feeder publishes a month."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel

from demo import feed as demo_feed
from demo.feed import NoticeWatcher
from demo.generate import FeedConfig, generate_month
from shared.access import FINANCE
from shared.cli import main
from shared.cli.kafka import Lag
from shared.cli.status import Settling
from shared.contracts.export import event_models
from shared.contracts.fields import DeadlineCheckRequested, NotionalInterestRequested
from shared.contracts.ops import DLQ_REPLAY_PERFORMED
from shared.contracts.registry import ENTITY_FIELDS
from shared.contracts.wire import read_envelope
from shared.http import HealthServer
from shared.ids import (
    notice_id_for_appropriation,
    notice_id_for_request,
    remittance_id,
    topup_assessment_id,
)
from shared.metrics import Metrics
from shared.money import amount_for_rate, format_yuan, parse_yuan
from tests.support import (
    REPO_ROOT,
    Received,
    cloudevent,
    create_namespace,
    kafka_options,
    partitions_of,
    publish,
    read_topic,
)

PERSON_ID = "150102199001010019"
CE = [("content-type", b"application/cloudevents+json")]


@pytest.fixture(autouse=True)
def _stack(stack_env: None) -> None:
    """Every test here needs the broker (the fixture fails clearly without it)."""


@pytest.fixture
async def namespace(monkeypatch: pytest.MonkeyPatch) -> str:
    name = await create_namespace()
    monkeypatch.setenv("NAMESPACE", name)
    return name


async def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """shared.cli.main in-process (in a thread: it runs its own event loop), output captured."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(args))
    out, err = capsys.readouterr()
    return code, out, err


def pension_ops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "pension-ops"), *args],
                          capture_output=True, text=True, timeout=60, env=env, check=False)


# ---- command line basics -----------------------------------------------------------------------


async def test_the_console_script_helps_rejects_bad_usage_with_2_and_fails_with_1() -> None:
    helped = pension_ops("--help")
    assert helped.returncode == 0
    for command in ("status", "wait-idle", "dlq", "report", "trace", "check-deadlines",
                    "notional-interest"):
        assert command in helped.stdout
    for args in (["report", "2025-13"], ["dlq", "show", "collection", "zero"],
                 ["check-deadlines", "--as-of", "2025-02-30"], ["dlq", "list", "billing"],
                 ["dlq", "replay", "collection"], []):
        assert pension_ops(*args).returncode == 2, args
    # No broker in the environment and no local stack in the state dir named.
    no_broker = {**{k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"},
                 "PENSION_STATE_DIR": "/nonexistent/pension-state"}
    failed = pension_ops("status", env=no_broker)
    assert failed.returncode == 1
    assert failed.stderr.strip().count("\n") == 0
    assert "KAFKA_BOOTSTRAP_SERVERS" in failed.stderr
    for help_args in (["dlq", "replay", "--help"], ["report", "--help"], ["trace", "--help"]):
        assert main(help_args) == 0


# ---- check-deadlines and notional-interest -----------------------------------------------------


async def _command_records(namespace: str, command_ids: set[str]) -> dict[str, Received]:
    records = await read_topic(
        f"{namespace}.ops.commands",
        until=lambda rs: command_ids <= {r.event["data"]["command_id"] for r in rs})
    return {r.event["data"]["command_id"]: r for r in records}


async def test_check_deadlines_and_notional_interest_publish_well_formed_commands(
        namespace: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await cli(capsys, "check-deadlines", "--as-of", "2025-04-16",
                             "--service", "collection")
    assert code == 0
    check_id = out.strip()
    assert re.fullmatch(r"ops-[0-9a-f]{32}", check_id)
    code, out, _ = await cli(capsys, "check-deadlines", "--as-of", "2025-04-06", "--json")
    assert code == 0
    published = json.loads(out)
    assert (published["key"], published["topic"]) == ("all", f"{namespace}.ops.commands")
    code, out, _ = await cli(capsys, "notional-interest", "--year", "2024")
    assert code == 0
    interest_id = out.strip()

    records = await _command_records(namespace, {check_id, published["command_id"], interest_id})
    expectations: dict[str, tuple[bytes, str, type[BaseModel], dict[str, Any]]] = {
        check_id: (b"collection", "ops.deadline_check.requested.v1", DeadlineCheckRequested,
                   {"command_id": check_id, "as_of": "2025-04-16"}),
        published["command_id"]: (b"all", "ops.deadline_check.requested.v1",
                                  DeadlineCheckRequested,
                                  {"command_id": published["command_id"], "as_of": "2025-04-06"}),
        interest_id: (b"occupational_annuity", "ops.notional_interest.requested.v1",
                      NotionalInterestRequested, {"command_id": interest_id, "year": 2024}),
    }
    for command_id, (key, event_type, model, data) in expectations.items():
        record = records[command_id]
        envelope = read_envelope(record.value, ENTITY_FIELDS)
        assert record.key == key
        assert record.headers["content-type"] == b"application/cloudevents+json"
        assert (envelope.type, envelope.source, envelope.data) == (event_type, "/ops/cli", data)
        assert record.event["subject"] == key.decode()
        model.model_validate(envelope.data)


# ---- dlq -----------------------------------------------------------------------------------------


def _dead_letter_headers(original_topic: str, partition: int,
                         offset: int) -> list[tuple[str, bytes]]:
    return [*CE, ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ("x-dlq-reason", b"NOT_JSON"), ("x-original-topic", original_topic.encode()),
            ("x-original-partition", str(partition).encode()),
            ("x-original-offset", str(offset).encode()),
            ("x-consumer-group", b"collection_test"),
            ("x-failed-at", b"2025-03-12T10:00:00.000+08:00")]


async def test_dlq_lists_shows_and_replays_a_dead_letter_to_its_original_topic(
        namespace: str, capsys: pytest.CaptureFixture[str]) -> None:
    original = f"{namespace}.tax.contribution.declarations"
    text_key, binary_key = b"91150100MA0N5A7B6L", b"91150200MA0N5A7B6X"
    text_value = ('{"data": {"person_id": "' + PERSON_ID + '", "pad": "' + "x" * 3000).encode()
    binary_value = b"\xff\xfe not utf-8 \x00"
    await publish(f"{namespace}.collection.dlq", [(text_key, text_value)],
                  headers=_dead_letter_headers(original, 2, 41))
    await publish(f"{namespace}.collection.dlq", [(binary_key, binary_value)],
                  headers=_dead_letter_headers(original, 1, 7))

    code, out, _ = await cli(capsys, "dlq", "list", "collection", "--json")
    assert code == 0
    listed = {d["key"]: d for d in json.loads(out)["dead_letters"]}
    assert set(listed) == {text_key.decode(), binary_key.decode()}
    text_entry = listed[text_key.decode()]
    assert (text_entry["reason"], text_entry["original_topic"],
            text_entry["original_position"]) == ("NOT_JSON", original, "2:41")
    code, out, _ = await cli(capsys, "dlq", "list", "collection")
    assert "2 dead letter(s)" in out
    assert "tax.contribution.declarations" in out

    text_position = f"{text_entry['partition']}:{text_entry['offset']}"
    binary_entry = listed[binary_key.decode()]
    binary_position = f"{binary_entry['partition']}:{binary_entry['offset']}"
    await _check_show(capsys, text_position, text_value, binary_position, binary_value)
    await _check_replay(capsys, namespace, text_position, text_key, text_value)

    code, out, _ = await cli(capsys, "dlq", "replay", "collection", "--all", "--dry-run")
    assert code == 0
    assert "would replay 1 dead letter(s)" in out
    assert f"skipped 1 already replayed (--again sends them): {text_position}" in out
    code, _, err = await cli(capsys, "dlq", "show", "collection", "0:999999")
    assert code == 1
    assert "no record at 0:999999" in err


async def _check_show(capsys: pytest.CaptureFixture[str], text_position: str, text_value: bytes,
                      binary_position: str, binary_value: bytes) -> None:
    code, out, err = await cli(capsys, "dlq", "show", "collection", text_position)
    assert code == 0
    assert PERSON_ID in out  # shown to the operator: reading it is the point of `show`
    assert "NOT_JSON" in out
    assert "truncated after 2000 characters" in out
    assert "traceparent=" in out
    assert PERSON_ID not in err
    code, out, _ = await cli(capsys, "dlq", "show", "collection", text_position, "--full",
                             "--json")
    shown = json.loads(out)
    assert (shown["value"], shown["truncated"]) == (text_value.decode(), False)
    assert shown["diagnosis"].startswith("NOT_JSON")
    assert "x-dlq-reason" not in shown["headers"]
    code, out, _ = await cli(capsys, "dlq", "show", "collection", binary_position, "--json")
    shown = json.loads(out)
    assert (shown["value"], shown["value_encoding"]) == (binary_value.hex(), "hex")


async def _check_replay(capsys: pytest.CaptureFixture[str], namespace: str, position: str,
                        key: bytes, value: bytes) -> None:
    code, _, err = await cli(capsys, "dlq", "replay", "collection", position)
    assert code == 2
    assert "--reason" in err
    code, out, err = await cli(capsys, "dlq", "replay", "collection", position,
                               "--reason", "parser fixed in 1.4.2")
    assert code == 0
    assert f"replayed 1 dead letter(s) from {namespace}.collection.dlq" in out
    assert "audit: ops.dlq_replay.performed.v1" in out
    [log_line] = [line for line in err.splitlines() if "dlq.replayed" in line]
    logged = json.loads(log_line)
    assert logged["target_topic"] == f"{namespace}.tax.contribution.declarations"
    assert f"{logged['dlq_partition']}:{logged['dlq_offset']}" == position
    assert logged["operator"] == "operator"  # the SASL principal the tool ran as
    assert PERSON_ID not in err  # the log names positions, never values
    assert "1501**********0019" not in err

    replayed = await read_topic(f"{namespace}.tax.contribution.declarations",
                                until=lambda rs: any(r.key == key for r in rs))
    [record] = [r for r in replayed if r.key == key]
    assert record.value == value
    assert record.headers == {"content-type": b"application/cloudevents+json",
                              "traceparent": b"00-0af7651916cd43dd8448eb211c80319c-"
                                             b"b7ad6b7169203331-01",
                              "x-replayed-from": f"{namespace}.collection.dlq:{position}".encode()}
    [audit] = await _replay_audits(namespace, 1)
    partition, offset = position.split(":")
    assert audit["data"] | {"command_id": "-"} == {
        "command_id": "-", "service": "collection", "dlq_topic": f"{namespace}.collection.dlq",
        "letters": [{"partition": int(partition), "offset": int(offset),
                     "target_topic": f"{namespace}.tax.contribution.declarations"}],
        "target_topics": [f"{namespace}.tax.contribution.declarations"],
        "reason": "parser fixed in 1.4.2", "operator": "operator", "again": False}

    code, out, _ = await cli(capsys, "dlq", "replay", "collection", position, "--reason", "twice")
    assert (code, "replayed 0 dead letter(s)" in out, "skipped 1 already replayed" in out) == \
        (0, True, True)
    code, out, _ = await cli(capsys, "dlq", "replay", "collection", position, "--reason",
                             "once more on purpose", "--again")
    assert (code, "replayed 1 dead letter(s)" in out) == (0, True)
    assert [a["data"]["again"] for a in await _replay_audits(namespace, 2)] == [False, True]


async def _replay_audits(namespace: str, count: int) -> list[dict[str, Any]]:
    commands = await read_topic(
        f"{namespace}.ops.commands",
        until=lambda rs: sum(r.event["type"] == DLQ_REPLAY_PERFORMED for r in rs) >= count)
    return [r.event for r in commands if r.event["type"] == DLQ_REPLAY_PERFORMED]


async def test_dlq_replay_refuses_a_target_the_service_does_not_consume(
        namespace: str, capsys: pytest.CaptureFixture[str]) -> None:
    forged = f"{namespace}.finance.transfer.settlements"  # collection never reads it
    await publish(f"{namespace}.collection.dlq", [(b"k", b"{}")],
                  headers=_dead_letter_headers(forged, 0, 3))
    code, out, err = await cli(capsys, "dlq", "replay", "collection", "--all", "--reason", "x")
    assert code == 1
    assert "replayed 0 dead letter(s)" in out
    assert f"{forged} is not a topic collection consumes" in err
    commands = await read_topic(f"{namespace}.ops.commands", until=lambda _: False, timeout_s=3)
    assert not [r for r in commands if r.event["type"] == DLQ_REPLAY_PERFORMED]


# ---- synthetic events that follow CONTRACTS.md (checked against the contract models) ---------

MODELS = event_models()
USCC = "91150100MA0N5A7B6L"
EBP, IBP = "enterprise_basic_pension", "institution_basic_pension"


def contract_event(event_type: str, data: dict[str, Any], *, source: str,
                   time: str = "2025-04-06T10:00:00+08:00", event_id: str | None = None) -> bytes:
    MODELS[event_type].model_validate(data)  # a synthetic event must be one a service could send
    return cloudevent(event_type, data, source=source, event_id=event_id, time=time)


def line(base_fen: int, employer_bps: int = 1600, employee_bps: int = 800) -> dict[str, Any]:
    return {"line_no": 1, "person_id": PERSON_ID, "base": format_yuan(base_fen),
            "employer_amount": format_yuan(amount_for_rate(base_fen, employer_bps)),
            "employee_amount": format_yuan(amount_for_rate(base_fen, employee_bps))}


def declared(declaration_id: str, region_code: str, base_fen: int, *,
             period: str = "2025-03", revision: int = 0) -> dict[str, Any]:
    return {"declaration_id": declaration_id, "revision": revision, "employer_uscc": USCC,
            "employer_name": "呼和浩特某某有限公司", "region_code": region_code,
            "scheme": "enterprise_basic", "fee_period": period, "unit_funding": None,
            "declared_on": f"{period}-10",
            "lines": [{**line(base_fen), "person_name": "张三"}]}


def registered(declaration_id: str, entity: str, base_fen: int, *, period: str = "2025-03",
               revision: int = 0) -> dict[str, Any]:
    the_line = line(base_fen)
    employer, employee = parse_yuan(the_line["employer_amount"]), parse_yuan(
        the_line["employee_amount"])
    return {"declaration_id": declaration_id, "revision": revision,
            "replaces_revision": revision - 1 if revision else None, "employer_uscc": USCC,
            "region_code": entity, "fiscal_entity_code": entity, "scheme": "enterprise_basic",
            "unit_funding": None, "fee_period": period, "declared_on": f"{period}-10",
            "due_on": f"{period}-20", "line_count": 1, "base_total": the_line["base"],
            "employer_total": format_yuan(employer), "employee_total": format_yuan(employee),
            "amount_due": format_yuan(employer + employee), "rule_version": "test",
            "lines": [the_line]}


def settled(payment_id: str, declaration_id: str, *, due: str, paid: str, total: str,
            fee: str = "0.00", days_late: int = 0) -> dict[str, Any]:
    outstanding = max(parse_yuan(due) - parse_yuan(total), 0)
    status = "paid" if outstanding == 0 and total == due else (
        "underpaid" if outstanding else "overpaid")
    return {"declaration_id": declaration_id, "revision": 0, "payment_id": payment_id,
            "paid_on": "2025-03-15", "due_on": "2025-03-20", "amount_due": due,
            "amount_paid": paid, "amount_paid_total": total,
            "amount_outstanding": format_yuan(outstanding), "days_late": days_late,
            "late_fee_due": fee, "status": status}


def rejected(declaration_id: str, code: str = "BASE_OUT_OF_RANGE") -> dict[str, Any]:
    return {"declaration_id": declaration_id, "revision": 0,
            "reasons": [{"code": code, "line_no": 1, "field": "base", "message": "test"}]}


def account(entity: str, kind: str = "special") -> dict[str, Any]:
    return {"entity_code": entity, "kind": kind, "name": f"{entity} 社会保障基金财政专户",
            "account_no": f"6222{entity}0001"}


def notice(appropriation_id: str, entity: str, fund: str, amount: str, *, attempt: int = 0,
           purpose: str = "subsidy_forwarding") -> tuple[str, dict[str, Any]]:
    notice_id = notice_id_for_appropriation(appropriation_id, attempt)
    return notice_id, {
        "notice_id": notice_id, "attempt": attempt, "purpose": purpose, "fund": fund,
        "period": "2025-03", "amount": amount, "due_on": "2025-03-31",
        "source_account": account(entity), "target_account": account("150000"),
        "covers": [appropriation_id],
        "replaces": notice_id_for_appropriation(appropriation_id, attempt - 1) if attempt else None,
        "document_no": "呼财社〔2025〕1号", "issuing_authority": "内蒙古自治区财政厅"}


def notice_settled(notice_data: dict[str, Any], amount_settled: str) -> dict[str, Any]:
    return {"notice_id": notice_data["notice_id"], "attempt": notice_data["attempt"],
            "purpose": notice_data["purpose"], "covers": notice_data["covers"],
            "amount": notice_data["amount"], "amount_settled": amount_settled,
            "value_date": "2025-03-28", "bank_references": ["BR1"]}


def obligation(entity: str, fund: str, due: str, settled_amount: str, *, as_of: str = "2025-03-28",
               **extra: Any) -> dict[str, Any]:
    return {"fiscal_entity_code": entity, "fund": fund, "period": "2025-03",
            "due_on": "2025-03-31", "amount_due": due, "amount_settled": settled_amount,
            "as_of": as_of, "days_late": 0, **extra}


# ---- trace ---------------------------------------------------------------------------------------


async def test_trace_orders_a_declarations_events_by_time_then_offset(
        namespace: str, capsys: pytest.CaptureFixture[str]) -> None:
    declaration_id = f"D-TRACE-{uuid.uuid4().hex[:8]}"
    other_id = declaration_id + "0"  # contains the id as text: the bytes filter is not enough
    key = USCC.encode()
    paid = {"payment_id": "P-T1", "declaration_id": declaration_id,
            "e_tax_voucher_no": "315150025000012345", "amount_paid": "1440.00",
            "paid_on": "2025-03-10"}
    uncredited = {"declaration_id": declaration_id, "payment_id": "P-T1", "reason": "UNDERPAID"}
    # Published out of time order; registered and settled share a time and a partition.
    await publish(f"{namespace}.collection.declarations", [
        (key, contract_event("collection.declaration.registered.v1",
                             registered(declaration_id, "150100", 600_000),
                             source="/collection", time="2025-03-10T09:30:00+08:00")),
        (key, contract_event("collection.contribution.settled.v1",
                             settled("P-T1", declaration_id, due="1440.00", paid="1440.00",
                                     total="1440.00"),
                             source="/collection", time="2025-03-10T09:30:00+08:00")),
        (key, contract_event("collection.declaration.registered.v1",
                             registered(other_id, "150100", 600_000), source="/collection",
                             time="2025-03-01T00:00:00+08:00")),
    ])
    await publish(f"{namespace}.tax.contribution.payments", [
        (key, contract_event("tax.contribution.paid.v1", paid, source="/tax/150000",
                             time="2025-03-10T01:00:00Z"))])
    await publish(f"{namespace}.tax.contribution.declarations", [
        (key, contract_event("tax.contribution.declared.v1",
                             declared(declaration_id, "150102", 600_000), source="/tax/150000",
                             time="2025-03-09T10:00:00+08:00"))])
    await publish(f"{namespace}.annuity.ledger", [
        (b"150100", contract_event("annuity.contribution.uncredited.v1", uncredited,
                                   source="/occupational_annuity",
                                   time="2025-03-10T09:31:00+08:00"))])

    code, out, _ = await cli(capsys, "trace", declaration_id, "--json")
    assert code == 0
    events = json.loads(out)["events"]
    assert [(e["topic"], e["type"]) for e in events] == [
        ("tax.contribution.declarations", "tax.contribution.declared.v1"),
        ("tax.contribution.payments", "tax.contribution.paid.v1"),
        ("collection.declarations", "collection.declaration.registered.v1"),
        ("collection.declarations", "collection.contribution.settled.v1"),
        ("annuity.ledger", "annuity.contribution.uncredited.v1"),
    ]
    assert events[1]["time"] == "2025-03-10 09:00:00.000+08:00"
    code, out, _ = await cli(capsys, "trace", declaration_id)
    assert code == 0
    assert "5 event(s)" in out
    assert "payment P-T1: 1440.00, total 1440.00 of 1440.00, paid" in out
    assert PERSON_ID not in out


# ---- report --------------------------------------------------------------------------------------


async def _publish_collection_events(namespace: str) -> None:
    def event(event_type: str, data: dict[str, Any], event_id: str | None = None) -> bytes:
        return contract_event(event_type, data, source="/collection", event_id=event_id)

    registered_type, settled_type = ("collection.declaration.registered.v1",
                                     "collection.contribution.settled.v1")
    rejected_type = "collection.declaration.rejected.v1"
    events = [
        event(registered_type, registered("D1", "150100", 600_000)),  # due 1440.00
        event(registered_type, registered("D1", "150100", 625_000, revision=1)),  # 1500.00
        event(rejected_type, rejected("D1", "REVISION_STALE")),  # D1 is registered: not counted
        event(registered_type, registered("D2", "150200", 490_700)),  # due 1177.68
        event(registered_type, registered("D3", "150000", 600_000, period="2025-02")),
        event(rejected_type, rejected("D4")), event(rejected_type, rejected("D5")),
        event(rejected_type, rejected("D6")),
        event(settled_type, settled("P1", "D1", due="1500.00", paid="1000.00",
                                    total="1000.00")),
        event(settled_type, settled("P2", "D1", due="1500.00", paid="500.00", total="1500.00",
                                    fee="5.25", days_late=7)),
        event(settled_type, settled("P3", "D2", due="1177.68", paid="1177.68", total="1177.68"),
              event_id="ev-P3"),
        event(settled_type, settled("P3", "D2", due="1177.68", paid="1177.68", total="1177.68"),
              event_id="ev-P3"),  # a relay re-send: the same event twice counts once
    ]
    await publish(f"{namespace}.collection.declarations", [(USCC.encode(), e) for e in events])
    # Rejections do not name their period or entity: the report finds the declarations.
    await publish(f"{namespace}.tax.contribution.declarations", [
        (USCC.encode(), contract_event("tax.contribution.declared.v1", data,
                                       source="/tax/150000"))
        for data in (declared("D4", "150302", 100), declared("D5", "150781", 100),
                     declared("D6", "150302", 100, period="2025-02"))])


async def _publish_transfer_events(namespace: str) -> None:
    def event(event_type: str, data: dict[str, Any]) -> bytes:
        return contract_event(event_type, data, source="/fund_transfer")

    _, n1 = notice("A1", "150100", EBP, "1000000.00")
    _, n2 = notice("A2", "150200", IBP, "500000.00")
    _, n3 = notice("A3", "150300", EBP, "300000.00")
    _, n3b = notice("A3", "150300", EBP, "300000.00", attempt=1)  # repeats what it replaces
    _, n4 = notice("A4", "150400", IBP, "50000.00")
    _, n5 = notice("R-150500", "150500", "occupational_annuity", "999.00",
                   purpose="annuity_remittance")
    issued = [(n["source_account"]["entity_code"].encode(),
               event("transfer.notice.issued.v1", n)) for n in (n1, n2, n3, n3b, n4, n5)]
    await publish(f"{namespace}.transfer.notices", [
        *issued, (b"150100", event("transfer.notice.settled.v1",
                                   notice_settled(n1, "1000000.00")))])
    await publish(f"{namespace}.transfer.obligations", [
        (b"150100", event("transfer.obligation.fulfilled.v1",
                          obligation("150100", EBP, "1000000.00", "1000000.00"))),
        (b"150200", event("transfer.obligation.shortfall.v1",
                          obligation("150200", IBP, "500000.00", "100000.00", as_of="2025-04-06",
                                     amount_outstanding="400000.00"))),
        (b"150200", event("transfer.obligation.shortfall.v1",
                          obligation("150200", IBP, "500000.00", "200000.00", as_of="2025-04-16",
                                     amount_outstanding="300000.00"))),
        (b"150300", event("transfer.obligation.overpaid.v1",
                          obligation("150300", EBP, "300000.00", "301000.00",
                                     amount_excess="1000.00"))),
    ])


def credited(declaration_id: str, entity: str, individual: int, unit: int, notional: int,
             period: str = "2025-03") -> dict[str, Any]:
    return {"declaration_id": declaration_id, "revision": 0, "payment_id": f"P-{declaration_id}",
            "fiscal_entity_code": entity, "fee_period": period,
            "unit_funding": "treasury_full" if notional else "self",
            "credits": [{"person_id": PERSON_ID, "individual_real": format_yuan(individual),
                         "unit_real": format_yuan(unit), "unit_notional": format_yuan(notional)}],
            "individual_real_total": format_yuan(individual),
            "unit_real_total": format_yuan(unit), "unit_notional_total": format_yuan(notional)}


def assessed(entity: str, period: str, interests: list[int]) -> dict[str, Any]:
    return {"assessment_id": topup_assessment_id(entity, period, 0), "sequence": 0,
            "fiscal_entity_code": entity, "fee_period": period, "interest_from": "2018-07-01",
            "interest_to": "2020-04-01", "total": format_yuan(sum(interests)),
            "members": [{"person_id": PERSON_ID, "principal": "1000.00",
                         "interest": format_yuan(i)} for i in interests],
            "funding_due_on": "2025-05-06", "rule_version": "test"}


async def _publish_ledger_events(namespace: str) -> None:
    def event(event_type: str, data: dict[str, Any]) -> tuple[bytes, bytes]:
        return (data["fiscal_entity_code"].encode(),
                contract_event(event_type, data, source="/occupational_annuity"))

    remittance = remittance_id("150100", "2025-03", 0)
    late = remittance_id("150200", "2025-03", 0)  # reported overdue, never completed
    topup = assessed("150200", "2018-06", [1200, 34])
    await publish(f"{namespace}.annuity.ledger", [
        event("annuity.contribution.credited.v1", credited("D7", "150100", 40_000, 80_000, 0)),
        event("annuity.contribution.credited.v1", credited("D8", "150100", 20_000, 0, 40_000)),
        event("annuity.contribution.credited.v1", credited("D9", "150000", 10_000, 20_000, 0)),
        event("annuity.contribution.credited.v1",
              credited("D10", "150200", 5_000, 10_000, 0, period="2025-02")),
        event("annuity.remittance.requested.v1", {
            "remittance_id": remittance, "fiscal_entity_code": "150100", "fee_period": "2025-03",
            "sequence": 0, "amount": "1400.00", "requested_on": "2025-04-06",
            "due_on": "2025-04-15", "rule_version": "test"}),
        event("annuity.remittance.completed.v1", {
            "remittance_id": remittance, "fiscal_entity_code": "150100", "fee_period": "2025-03",
            "notice_id": notice_id_for_request(remittance, 0), "amount": "1400.00",
            "value_date": "2025-04-10", "on_time": True}),
        event("annuity.remittance.requested.v1", {
            "remittance_id": late, "fiscal_entity_code": "150200", "fee_period": "2025-03",
            "sequence": 0, "amount": "500.00", "requested_on": "2025-04-06",
            "due_on": "2025-04-15", "rule_version": "test"}),
        event("annuity.remittance.overdue.v1", {
            "remittance_id": late, "fiscal_entity_code": "150200", "fee_period": "2025-03",
            "amount": "500.00", "due_on": "2025-04-15", "as_of": "2025-04-16"}),
        event("annuity.interest_topup.assessed.v1", topup),
        event("annuity.interest_topup.allocated.v1", {
            "assessment_id": topup["assessment_id"], "fiscal_entity_code": "150200",
            "fee_period": "2018-06", "notice_id": "N-topup", "amount_funded": "12.34",
            "allocations": [{"person_id": PERSON_ID, "amount": "12.00"},
                            {"person_id": PERSON_ID, "amount": "0.34"}]}),
        event("annuity.interest_topup.assessed.v1", assessed("150300", "2019-01", [500])),
    ])


def _row(section: dict[str, Any], entity: str) -> dict[str, Any]:
    return next(r for r in section["rows"] if r["fiscal_entity_code"] == entity)


async def test_report_totals_are_the_sums_of_the_published_events_and_reconcile(
        namespace: str, capsys: pytest.CaptureFixture[str]) -> None:
    await _publish_collection_events(namespace)
    await _publish_transfer_events(namespace)
    await _publish_ledger_events(namespace)

    code, out, _ = await cli(capsys, "report", "2025-03", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["reconciles"] is True, report
    collection, subsidies = report["sections"]["collection"], report["sections"]["subsidies"]
    assert collection["totals"] == {"registered": 2, "rejected": 2, "amount_due": "2677.68",
                                    "amount_paid": "2677.68", "late_fees": "5.25",
                                    "outstanding": "0.00"}
    assert _row(collection, "150100")["amount_due"] == "1500.00"  # the latest revision only
    assert _row(collection, "150300")["rejected"] == 1
    assert _row(collection, "150781")["rejected"] == 1
    assert subsidies["totals"] == {"obligations": 4, "due": "1850000.00",
                                   "settled": "1501000.00", "short": "300000.00",
                                   "excess": "1000.00", "open": "50000.00"}
    annuity, topups = report["sections"]["annuity"], report["sections"]["topups"]
    assert annuity["totals"] == {"collected": "1700.00", "notional": "400.00",
                                 "requested": "1900.00", "remitted": "1400.00",
                                 "not_requested": "0.00", "overdue": "500.00"}
    assert _row(annuity, "150000")["collected"] == "300.00"  # the region remits nothing
    assert topups["totals"] == {"assessments": 2, "assessed": "17.34", "allocated": "12.34",
                                "awaiting_funding": "5.00"}
    assert len(collection["rows"]) == 15

    code, out, _ = await cli(capsys, "report", "2025-03")
    assert code == 0
    assert "Everything reconciles." in out
    assert "呼和浩特市" in out


async def test_report_says_plainly_when_figures_do_not_reconcile(
        namespace: str, capsys: pytest.CaptureFixture[str]) -> None:
    await publish(f"{namespace}.collection.declarations", [
        (USCC.encode(), contract_event(event_type, data, source="/collection"))
        for event_type, data in (
            ("collection.declaration.registered.v1", registered("D1", "150100", 600_000)),
            ("collection.contribution.settled.v1",
             settled("P1", "D1", due="1440.00", paid="10.00", total="1440.00")))])
    await publish(f"{namespace}.transfer.obligations", [(b"150200", contract_event(
        "transfer.obligation.fulfilled.v1", obligation("150200", EBP, "500.00", "400.00"),
        source="/fund_transfer"))])

    code, out, _ = await cli(capsys, "report", "2025-03")
    assert code == 0
    assert "reconciles: NO" in out
    assert "declaration D1: payments add up to 10.00 but amount_paid_total says 1440.00" in out
    assert "DOES NOT RECONCILE: collection, subsidies" in out
    code, _, _ = await cli(capsys, "report", "2025-03", "--strict")
    assert code == 1


# ---- status and wait-idle ------------------------------------------------------------------------


async def _commit(group: str, topic: str, partition: int, offset: int) -> None:
    # Committing for a service's group takes that service's own rights.
    consumer = AIOKafkaConsumer(**kafka_options(group.rsplit("_", 1)[0]), group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


async def _health_server(ready: dict[str, bool],
                         details: dict[str, int | float] | None = None) -> HealthServer:
    async def check() -> dict[str, bool]:
        return ready

    server = HealthServer(host="127.0.0.1", port=0, registry=Metrics("probe").registry,
                          ready=check, alive=lambda: True, details=lambda: details or {})
    await server.start()
    return server


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_status_shows_health_and_a_groups_lag_and_wait_idle_waits_for_it(
        namespace: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    topic = f"{namespace}.tax.contribution.payments"
    await publish(topic, [(b"same-key", cloudevent("tax.contribution.paid.v1",
                                                   {"payment_id": f"P{i}"})) for i in range(3)])
    [partition] = [r.partition for r in await read_topic(topic, until=lambda rs: len(rs) == 3)
                   ][:1]
    await _commit(f"collection_{namespace}", topic, partition, 1)
    healthy = await _health_server({"database": True}, {
        "outbox_pending": 4, "outbox_set_aside": 2, "outbox_oldest_unpublished_s": 7.5})
    unready = await _health_server({"database": False, "kafka_producer": True})
    monkeypatch.setenv("PENSION_COLLECTION_URL", f"http://127.0.0.1:{healthy.port}")
    monkeypatch.setenv("PENSION_FUND_TRANSFER_URL", f"http://127.0.0.1:{_unused_port()}")
    monkeypatch.setenv("PENSION_OCCUPATIONAL_ANNUITY_URL", f"http://127.0.0.1:{unready.port}")
    try:
        monkeypatch.setenv("PENSION_CONSOLE_URL", f"http://127.0.0.1:{healthy.port}")
        code, out, _ = await cli(capsys, "status", "--json")
        assert code == 3  # a service down, one not ready
        status = json.loads(out)
        health = {s["service"]: (s["healthz"], s["readyz"]) for s in status["services"]}
        assert health == {"collection": ("up", "ready"), "fund_transfer": ("down", "down"),
                          "occupational_annuity": ("up", "not ready (503)"),
                          "console": ("up", "ready")}
        assert status["healthy"] is False
        assert "fund_transfer down" in status["problems"]
        assert "occupational_annuity not ready (503): database" in status["problems"]
        lags = {(lag["group"], lag["topic"]): lag for lag in status["lag"]}
        assert lags[(f"collection_{namespace}", topic)]["lag"] == 2
        assert lags[(f"collection_{namespace}", topic)]["committed"] is True
        # The console's group never committed here: it lags by the 3 payments too.
        assert lags[(f"console_{namespace}", topic)] == {
            "group": f"console_{namespace}", "topic": topic, "lag": 3, "committed": False}
        assert status["total_lag"] == 5
        outbox = {s["service"]: s["outbox"] for s in status["services"]}
        assert outbox["collection"] == {"outbox_pending": 4, "outbox_set_aside": 2,
                                        "outbox_oldest_unpublished_s": 7.5}
        assert outbox["fund_transfer"] is None
        code, out, _ = await cli(capsys, "status")
        assert code == 3
        assert "not ready (503): database" in out
        assert "2 problem(s): fund_transfer down; occupational_annuity not ready" in out
        assert re.search(r"collection\s+4\s+2\s+7\.5", out)
        assert "4 outbox row(s) set aside" in out  # collection's and the console's (one server)
        assert re.search(rf"collection_{namespace}\s+{re.escape(topic)}\s+2\b", out)
    finally:
        await healthy.stop()
        await unready.stop()

    code, _, err = await cli(capsys, "wait-idle", "--timeout-s", "2", "--settle-s", "1")
    assert code == 1
    assert f"collection_{namespace} {topic} 2" in err
    await _commit(f"collection_{namespace}", topic, partition, 3)
    code, out, _ = await cli(capsys, "wait-idle", "--timeout-s", "30", "--settle-s", "1")
    assert code == 0
    assert "idle: 3 consumer groups have lag 0" in out


def test_wait_idle_needs_lag_0_and_quiet_topics_for_the_whole_settle_window() -> None:
    quiet, busy = [Lag("g", "t", 0, True)], [Lag("g", "t", 1, True)]
    settling = Settling(settle_ms=1_000)
    assert not settling.settled(quiet, {"t": 5}, now_ms=0)
    assert not settling.settled(quiet, {"t": 6}, now_ms=600)  # a relay published: start over
    assert not settling.settled(quiet, {"t": 6}, now_ms=1_200)
    assert not settling.settled(busy, {"t": 6}, now_ms=1_700)
    assert not settling.settled(quiet, {"t": 6}, now_ms=1_900)
    assert settling.settled(quiet, {"t": 6}, now_ms=2_900)


def test_status_expects_every_topic_each_built_service_consumes() -> None:
    """SERVICE_INPUTS must cover what the services subscribe to, or wait-idle could miss work."""
    import importlib.util  # noqa: PLC0415

    from shared.cli.status import SERVICE_INPUTS  # noqa: PLC0415

    for service, topics in SERVICE_INPUTS.items():
        if importlib.util.find_spec(f"services.{service}.app") is None:
            continue  # not built yet in this tree: nothing to compare
        app = importlib.import_module(f"services.{service}.app")
        assert set(app.spec().topics) <= set(topics), service


# ---- the feeder ----------------------------------------------------------------------------------


async def test_the_feeder_publishes_a_whole_small_month_inbound_only(namespace: str) -> None:
    config = FeedConfig(employers=40, lines_per_employer=3, seed=5)
    code = await asyncio.to_thread(demo_feed.main, ["--employers", "40", "--lines-per-employer",
                                                    "3", "--seed", "5", "--inbound-only",
                                                    "--namespace", namespace])
    assert code == 0
    month = generate_month(config)
    filed = (*month.declaration_messages, *month.filing_messages)  # enterprise annuity too
    declared = await read_topic(
        f"{namespace}.tax.contribution.declarations",
        until=lambda rs: len(rs) >= len(filed), timeout_s=30)
    paid = await read_topic(
        f"{namespace}.tax.contribution.payments",
        until=lambda rs: len(rs) >= len(month.payment_messages) + 2, timeout_s=30)
    appropriated = await read_topic(f"{namespace}.finance.subsidy.appropriations",
                                    until=lambda rs: len(rs) >= len(
                                        month.appropriation_messages), timeout_s=30)
    assert sorted(r.event["id"] for r in declared) == sorted(m.event_id for m in filed)
    assert len(paid) == len(month.early) + len(month.payment_messages) + len(month.held)
    assert {r.key for r in appropriated} == {m.key.encode() for m in month.appropriation_messages}
    early = month.early[0]
    [early_record] = [r for r in paid if r.event["id"] == early.event_id]
    [its_declaration] = [r for r in declared
                         if r.event["data"]["declaration_id"] == early.data["declaration_id"]]
    assert early_record.event["time"] <= its_declaration.event["time"]


async def test_the_feeders_notice_watcher_finds_predicted_notices_on_the_topic(
        namespace: str) -> None:
    topic = f"{namespace}.transfer.notices"
    notice_id, data = notice("A-watch", "150100", EBP, "123.45")
    await publish(topic, [(b"150100", contract_event("transfer.notice.issued.v1", data,
                                                     source="/fund_transfer")),
                          (b"150200", b"not json")])
    consumer = AIOKafkaConsumer(**kafka_options(FINANCE), group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        assert await partitions_of(consumer, topic)
        watcher = NoticeWatcher(consumer, topic)
        await watcher.start()
        seen = await watcher.wait_for({notice_id, "N-never"}, timeout_s=3)
    finally:
        await consumer.stop()
    assert list(seen) == [notice_id]
    assert (seen[notice_id].amount_fen, seen[notice_id].source_entity) == (12_345, "150100")
