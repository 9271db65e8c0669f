"""Operators see the running system as it is: readiness, metrics, lag, dead letters, report, trace;
and the month, fed again into a fresh namespace, gives the annuity service's events again.

The three services run against the real broker and database in a fresh namespace; the demo
feeder produces a small but complete month through them (retirements and back-credits
included); then every operator surface is checked against what actually happened on the topics.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import urllib.request
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from demo.feed import feed
from demo.generate import FeedConfig, generate_month
from services.collection.app import spec as collection_spec
from services.console.app import spec as console_spec
from services.fund_transfer.app import spec as fund_transfer_spec
from services.occupational_annuity import store as annuity_store
from services.occupational_annuity.app import spec as annuity_spec
from shared.access import FINANCE, HR, OPERATOR, TAX_BUREAU
from shared.cli import main
from shared.cli.common import CliEnv
from shared.contracts import topology
from shared.money import format_yuan, parse_yuan
from shared.service import Runtime
from tests.support import (
    access_of,
    client_config,
    connect_db,
    console_environ,
    create_namespace,
    publish,
    read_topic,
    service_running,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("stack_env")
METRICS = (
    "pension_records_consumed_total", "pension_records_handled_total", "pension_rejections_total",
    "pension_dead_letters_total", "pension_batch_duration_seconds", "pension_consumer_lag_records",
    "pension_outbox_backlog_events", "pension_business_gauge", "pension_consumer_running",
)
IDENTITY_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
CONFIG = FeedConfig(employers=40, lines_per_employer=3, seed=7)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@asynccontextmanager
async def month_fed(namespace: str,
                    console_dir: Path | None = None) -> AsyncIterator[dict[str, Runtime]]:
    """The three services in the namespace (and the operators' console, given a directory for
    its secrets), the demo month fed through them."""
    saved = dict(os.environ)
    async with AsyncExitStack() as stack:
        runtimes = {
            spec.name: await stack.enter_async_context(service_running(spec, namespace))
            for spec in (collection_spec(), fund_transfer_spec(), annuity_spec())
        }
        if console_dir is not None:
            os.environ.update(console_environ(console_dir,
                                              {name: url(rt) for name, rt in runtimes.items()}))
            runtimes["console"] = await stack.enter_async_context(
                service_running(console_spec(), namespace))
        env = CliEnv.from_environ({
            **client_config(OPERATOR), "NAMESPACE": namespace,
            **{f"PENSION_{name.upper()}_URL": url(rt) for name, rt in runtimes.items()},
        })
        partners = {p: access_of(p) for p in (TAX_BUREAU, FINANCE, HR)}
        outcome = await feed(CONFIG, env, inbound_only=False, wait_s=180, partners=partners)
        assert outcome["missing"] == [], outcome
        yield runtimes
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory,
                 ) -> AsyncIterator[tuple[str, dict[str, Runtime]]]:
    """The three services and the operators' console (status checks it too)."""
    namespace = await create_namespace()
    async with month_fed(namespace, tmp_path_factory.mktemp("console")) as runtimes:
        yield namespace, runtimes


def url(runtime: Runtime) -> str:
    assert runtime.health is not None
    return f"http://127.0.0.1:{runtime.health.port}"


async def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
              namespace: str, runtimes: dict[str, Runtime], *args: str) -> tuple[int, str]:
    monkeypatch.setenv("NAMESPACE", namespace)
    for name, runtime in runtimes.items():
        monkeypatch.setenv(f"PENSION_{name.upper()}_URL", url(runtime))
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(args))
    return code, capsys.readouterr().out


async def strict_report(system: tuple[str, dict[str, Runtime]],
                        monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """`report 2025-03 --json --strict`: exit 0 only when every section reconciles."""
    code, out = await cli(monkeypatch, capsys, *system, "report", "2025-03", "--json",
                          "--strict")
    assert code == 0, out
    return json.loads(out)  # type: ignore[no-any-return]


async def test_every_service_is_ready_and_alive(system: tuple[str, dict[str, Runtime]]) -> None:
    _, runtimes = system
    for runtime in runtimes.values():
        status, body = await asyncio.to_thread(get, url(runtime) + "/readyz")
        assert status == 200, body
        assert json.loads(body)["ready"] is True
        assert (await asyncio.to_thread(get, url(runtime) + "/healthz"))[0] == 200


async def test_metrics_name_every_figure_and_no_identity_number(
    system: tuple[str, dict[str, Runtime]],
) -> None:
    _, runtimes = system

    async def lag_published() -> bool:
        texts = [(await asyncio.to_thread(get, url(rt) + "/metrics"))[1]
                 for rt in runtimes.values()]
        return all("pension_consumer_lag_records{" in text for text in texts)

    await wait_for(lag_published, timeout_s=30, what="lag gauges")
    for runtime in runtimes.values():
        _, text = await asyncio.to_thread(get, url(runtime) + "/metrics")
        for name in METRICS:
            assert name in text, name
        assert not IDENTITY_NUMBER.search(text)
        assert f'pension_consumer_running{{service="{runtime.metrics.service}"}} 1.0' in text
    _, collection_text = await asyncio.to_thread(get, url(runtimes["collection"]) + "/metrics")
    assert 'pension_rejections_total{code="BASE_OUT_OF_RANGE"' in collection_text or (
        "pension_rejections_total{" in collection_text)


async def test_status_reports_lag_zero_for_every_group(
    system: tuple[str, dict[str, Runtime]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace, runtimes = system
    code, _ = await cli(monkeypatch, capsys, namespace, runtimes, "wait-idle", "--timeout-s", "60")
    assert code == 0
    # The console catches up a moment after the services (wait-idle waits for them only).
    async def all_caught_up() -> bool:
        code, out = await cli(monkeypatch, capsys, namespace, runtimes, "status", "--json")
        return code == 0 and json.loads(out)["total_lag"] == 0

    await wait_for(all_caught_up, timeout_s=60, what="status to find every group caught up")
    code, out = await cli(monkeypatch, capsys, namespace, runtimes, "status", "--json")
    assert code == 0
    status = json.loads(out)
    assert {lag["group"] for lag in status["lag"]} == {
        f"{name}_{namespace}" for name in runtimes}
    assert status["total_lag"] == 0
    assert all(service["readyz"] == "ready" for service in status["services"]), status


async def test_a_dead_letter_is_listed_shown_and_replayed(
    system: tuple[str, dict[str, Runtime]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace, runtimes = system
    marker = b"not json at all " + namespace.encode()
    await publish(f"{namespace}.tax.contribution.declarations", [(b"91150100MA0N5A7B6L", marker)])
    dead = await read_topic(f"{namespace}.collection.dlq",
                            until=lambda r: any(x.value == marker for x in r))
    letter = next(x for x in dead if x.value == marker)
    position = f"{letter.partition}:{letter.offset}"
    code, out = await cli(monkeypatch, capsys, namespace, runtimes, "dlq", "list", "collection")
    assert code == 0
    assert "NOT_JSON" in out
    assert position in out
    code, out = await cli(monkeypatch, capsys, namespace, runtimes,
                          "dlq", "show", "collection", position)
    assert code == 0
    assert "not json at all" in out
    code, _ = await cli(monkeypatch, capsys, namespace, runtimes,
                        "dlq", "replay", "collection", position, "--reason", "parser fixed")
    assert code == 0
    again = await read_topic(f"{namespace}.tax.contribution.declarations",
                             until=lambda r: sum(x.value == marker for x in r) >= 2)
    assert sum(x.value == marker for x in again) == 2  # the original and the replay
    # Still not JSON: the copy is dead-lettered again and says where it came from; the audit
    # event the replay put on ops.commands is skipped by every service, never dead-lettered.
    dead = await read_topic(f"{namespace}.collection.dlq",
                            until=lambda r: sum(x.value == marker for x in r) >= 2)
    [copy] = [x for x in dead if x.value == marker and "x-replayed-from" in x.headers]
    assert copy.headers["x-replayed-from"] == f"{namespace}.collection.dlq:{position}".encode()
    code, _ = await cli(monkeypatch, capsys, namespace, runtimes, "wait-idle", "--timeout-s", "60")
    assert code == 0
    for service in runtimes:
        letters = await read_topic(f"{namespace}.{service}.dlq", until=lambda _: False,
                                   timeout_s=2)
        assert not [x for x in letters
                    if x.headers.get("x-original-topic") == f"{namespace}.ops.commands".encode()]


async def test_report_totals_equal_the_sums_of_the_outbound_events(
    system: tuple[str, dict[str, Runtime]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace, _ = system
    report = await strict_report(system, monkeypatch, capsys)
    events = [r.event for r in await read_topic(f"{namespace}.collection.declarations",
                                                until=lambda r: False, timeout_s=5)]
    latest: dict[str, dict[str, Any]] = {}
    for event in events:
        data = event["data"]
        if event["type"] != "collection.declaration.registered.v1":
            continue  # the topic also carries payments, rejections and annuity base findings
        newer = data["declaration_id"] not in latest or (
            latest[data["declaration_id"]]["revision"] < data["revision"])
        if newer and data["fee_period"] == "2025-03":
            latest[data["declaration_id"]] = data
    payments = [e["data"] for e in events if e["type"] == "collection.contribution.settled.v1"
                and e["data"]["declaration_id"] in latest]
    totals = report["sections"]["collection"]["totals"]
    assert report["reconciles"] is True
    assert totals["registered"] == len(latest) > 0
    assert totals["amount_due"] == format_yuan(
        sum(parse_yuan(d["amount_due"]) for d in latest.values()))
    assert totals["amount_paid"] == format_yuan(sum(parse_yuan(p["amount_paid"]) for p in payments))
    assert totals["late_fees"] == format_yuan(sum(parse_yuan(p["late_fee_due"]) for p in payments))


async def test_trace_lists_a_declarations_events_in_order(
    system: tuple[str, dict[str, Runtime]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace, runtimes = system
    events = [r.event for r in await read_topic(f"{namespace}.collection.declarations",
                                                until=lambda r: False, timeout_s=5)]
    settled = next(e for e in events if e["type"] == "collection.contribution.settled.v1")
    declaration_id = settled["data"]["declaration_id"]
    code, out = await cli(monkeypatch, capsys, namespace, runtimes, "trace", declaration_id)
    assert code == 0
    declared_at = out.index("tax.contribution.declared.v1")
    registered_at = out.index("collection.declaration.registered.v1")
    settled_at = out.index("collection.contribution.settled.v1")
    assert declared_at < registered_at
    assert "tax.contribution.paid.v1" in out
    assert settled_at > declared_at


async def test_an_overdue_remittance_shows_in_the_business_gauges_until_it_is_gone(
    system: tuple[str, dict[str, Runtime]],
) -> None:
    """The gauge SQL on the real schema, through the watch loop, to /metrics and back out."""
    namespace, runtimes = system
    metrics_url = url(runtimes["occupational_annuity"]) + "/metrics"
    overdue = ('pension_business_gauge{fiscal_entity_code="159999",'
               'name="remittances_overdue",service="occupational_annuity"} 1.0')
    conn = await connect_db(f"occupational_annuity_{namespace}")
    try:
        await conn.execute(
            "INSERT INTO remittance (remittance_id, fiscal_entity_code, fee_period, sequence,"
            " amount_fen, requested_on, due_on, status)"
            " VALUES ('R-gauge-test', '159999', '1999-01', 0, 12345, '1999-02-01', '1999-02-15',"
            " 'requested')")
        figures = {(name, entity): value for name, entity, value
                   in await annuity_store.gauges(conn) if entity == "159999"}
        assert figures == {("remittances_pending", "159999"): 1,
                           ("remittances_pending_fen", "159999"): 12345,
                           ("remittances_overdue", "159999"): 1,
                           ("remittances_overdue_fen", "159999"): 12345}

        async def shown() -> bool:
            return overdue in (await asyncio.to_thread(get, metrics_url))[1]

        await wait_for(shown, timeout_s=30, what="the overdue remittance gauge")
        await conn.execute("DELETE FROM remittance WHERE remittance_id = 'R-gauge-test'")

        async def gone() -> bool:
            return 'fiscal_entity_code="159999"' not in (await asyncio.to_thread(
                get, metrics_url))[1]

        await wait_for(gone, timeout_s=30, what="the settled remittance's gauges to go")
    finally:
        await conn.execute("DELETE FROM remittance WHERE remittance_id = 'R-gauge-test'")
        await conn.close()


async def test_every_event_on_the_topics_is_a_flow_the_asyncapi_documents_describe(
    system: tuple[str, dict[str, Runtime]],
) -> None:
    """What the services really published after a whole month matches shared/contracts/topology
    (the source of docs/asyncapi/), so the documents describe no less than the system does."""
    namespace, _ = system
    names = [t.name for t in topology.TOPICS]
    topics = await asyncio.gather(*(
        read_topic(f"{namespace}.{name}", until=lambda r: False, timeout_s=5) for name in names))
    seen: set[tuple[str, str, str]] = set()
    for name, records in zip(names, topics, strict=True):
        for record in records:
            try:
                event = record.event
            except ValueError:
                continue  # the dead-letter test's unreadable record
            seen.add((name, event["source"], event["type"]))
    assert seen, "no events at all"
    for name, source, event_type in seen:
        assert event_type in topology.types_on(name), (name, event_type)
        service = topology.SERVICES.get(source.removeprefix("/"))
        if service is not None:
            published = {t for f in service.publishes if f.topic == name for t in f.event_types}
            assert event_type in published, (service.name, name, event_type)
    by_services = {(name, t) for name, source, t in seen if source.removeprefix("/")
                   in topology.SERVICES}
    assert ("transfer.notices", "transfer.notice.issued.v1") in by_services
    assert ("annuity.ledger", "annuity.contribution.credited.v1") in by_services


async def test_the_months_retirements_and_back_credits_are_funded_and_reconcile(
    system: tuple[str, dict[str, Runtime]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace, _ = system
    sections = (await strict_report(system, monkeypatch, capsys))["sections"]
    month = generate_month(CONFIG).personnel
    fundings, backcredits = sections["fundings"]["totals"], sections["backcredits"]["totals"]
    assert fundings["fundings"] == sum(p.kind == "funding" for p in month.predicted) > 0
    assert backcredits["backcredits"] == month.backcredits > 0
    assert fundings["outstanding"] == backcredits["outstanding"] == "0.00"
    assert sections["notional"]["totals"]["funded"] == fundings["completed"]
    assert sections["notional"]["totals"]["interest_posted"] != "0.00"
    ledger = [r.event for r in await read_topic(f"{namespace}.annuity.ledger",
                                                until=lambda r: False, timeout_s=5)]
    rejected = [e["data"] for e in ledger if e["type"] == "annuity.hr_event.rejected.v1"]
    assert sorted(r["reasons"][0]["code"] for r in rejected) == ["AMOUNT_INVALID",
                                                                 "MEMBER_UNKNOWN"]
    notices = [r.event for r in await read_topic(f"{namespace}.transfer.notices",
                                                 until=lambda r: False, timeout_s=5)]
    [failed] = [e["data"] for e in notices if e["type"] == "transfer.notice.failed.v1"
                and e["data"]["purpose"] == "annuity_notional_funding"]
    assert failed["amount_settled"] != "0.00"
    assert failed["replaced_by"] in {e["data"]["notice_id"] for e in notices
                                     if e["type"] == "transfer.notice.settled.v1"}


ANNUITY_OUTPUTS = ("annuity.ledger", "transfer.requests")


async def test_the_annuity_part_of_the_month_replayed_in_a_fresh_namespace_is_the_same(
    system: tuple[str, dict[str, Runtime]],
) -> None:
    """The same inbound events, fed again into fresh topics and schemas, give the same
    occupational_annuity events: the same ids, the same data (only `time` differs)."""
    first, _ = system
    replay = await create_namespace()
    async with month_fed(replay):
        pass
    for topic in ANNUITY_OUTPUTS:
        original, again = await _events_of(first, topic), await _events_of(replay, topic)
        assert len(original) > 0
        missing, extra = sorted(set(original) - set(again)), sorted(set(again) - set(original))
        assert (missing, extra) == ([], []), (topic, missing[:5], extra[:5])
        assert again == original, topic


async def _events_of(namespace: str, topic: str) -> list[tuple[str, str, str]]:
    """(id, type, canonical data) of every event occupational_annuity published on a topic."""
    records = await read_topic(f"{namespace}.{topic}", until=lambda r: False, timeout_s=5)
    return sorted((r.event["id"], r.event["type"], json.dumps(r.event["data"], sort_keys=True))
                  for r in records if r.event["source"] == "/occupational_annuity")
