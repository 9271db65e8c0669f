"""Collection pipeline benchmark: our service versus a hand-written raw loop on one machine.

Measures, on the real broker and database (`make bench`):
1. backlog throughput: N one-line declarations already on the topic, drained by
   (a) a raw aiokafka consume -> validate -> COPY -> produce -> commit loop (the baseline) and
   (b) the collection service as a separate process; the ratio is the figure that matters,
   because absolute figures drift on shared machines;
2. end-to-end latency at a steady 1,000 lines/s (publish -> registered event read back): p50/p99;
3. the service's peak resident memory (VmHWM).
Prints a table and writes bench-results/pipeline.json. Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.collection.app import spec as collection_spec
from shared.access import ADMIN
from shared.contracts.wire import CONTENT_TYPE, loads_strict
from shared.ids import USCC_ALPHABET, USCC_WEIGHTS, resident_id_problem, uscc_is_valid
from shared.money import amount_for_rate, format_yuan, parse_yuan
from tests.support import (
    CREATED_SCHEMA_PATTERNS,
    create_namespace,
    database_url,
    kafka_options,
    migrate_for_tests,
    partitions_of,
    principal_environ,
    remove_created,
)

REPO = Path(__file__).resolve().parents[1]
WAIT_S_MAX = 600.0
RATE_LINES_PER_S = 1000
# Events are canonical JSON (sorted keys, no spaces), so these byte patterns are exact.
REGISTERED_MARK = b'"type":"collection.declaration.registered.v1"'
DECLARATION_ID = re.compile(rb'"declaration_id":"([^"]+)"')


def uscc(serial: int) -> str:
    body = f"91150100{serial:09d}"
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body, USCC_WEIGHTS, strict=True))
    return body + USCC_ALPHABET[(31 - total % 31) % 31]


def person_id(serial: int) -> str:
    first = f"150102{dt.date(1960, 1, 1) + dt.timedelta(days=serial % 15000):%Y%m%d}" \
            f"{serial % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first + "10X98765432"[sum(int(c) * w for c, w in zip(first, weights, strict=True)) % 11]


def declaration(run: str, serial: int) -> tuple[bytes, bytes, str]:
    declaration_id = f"B-{run}-{serial}"
    employer = uscc(serial)
    data = {
        "declaration_id": declaration_id, "revision": 0, "employer_uscc": employer,
        "employer_name": "呼和浩特基准测试有限公司", "region_code": "150102",
        "scheme": "enterprise_basic", "fee_period": "2025-03", "unit_funding": None,
        "declared_on": "2025-03-12",
        "lines": [{"line_no": 1, "person_id": person_id(serial), "person_name": "张三",
                   "base": "6000.00", "employer_amount": "960.00", "employee_amount": "480.00"}],
    }
    event = {"specversion": "1.0", "id": f"E-{declaration_id}", "source": "/tax/150000",
             "type": "tax.contribution.declared.v1", "time": "2025-03-12T10:00:00+08:00",
             "datacontenttype": "application/json", "subject": employer, "data": data}
    return employer.encode(), json.dumps(event, ensure_ascii=False).encode(), declaration_id


async def publish_all(topic: str, records: list[tuple[bytes, bytes, str]]) -> None:
    producer = AIOKafkaProducer(**kafka_options(ADMIN), enable_idempotence=True,
                                acks="all", linger_ms=10)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=v, key=k,
                                       headers=[("content-type", CONTENT_TYPE.encode())])
                   for k, v, _ in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def validate_raw(data: dict[str, Any]) -> list[tuple[str, int, str, int, int, int]] | None:
    """The baseline's checks: checksums, dates, base x rate; the same work a real loop must do."""
    if not uscc_is_valid(data["employer_uscc"]):
        return None
    declared_on = dt.date.fromisoformat(data["declared_on"])
    rows = []
    for line in data["lines"]:
        if resident_id_problem(line["person_id"], not_after=declared_on) is not None:
            return None
        base = parse_yuan(line["base"])
        employer, employee = parse_yuan(line["employer_amount"]), parse_yuan(
            line["employee_amount"])
        if employer != amount_for_rate(base, 1600) or employee != amount_for_rate(base, 800):
            return None
        rows.append((data["declaration_id"], line["line_no"], line["person_id"], base,
                     employer, employee))
    return rows


async def run_baseline(namespace: str, count: int) -> float:
    """consume -> validate -> COPY -> produce -> commit, in batches; returns lines per second."""
    conn = await asyncpg.connect(database_url())
    schema = f"bench_{namespace}"
    CREATED_SCHEMA_PATTERNS.append(schema)
    await conn.execute(f'CREATE SCHEMA "{schema}"; CREATE TABLE "{schema}".line ('
                       "declaration_id text, line_no int, person_id text, base_fen bigint,"
                       " employer_fen bigint, employee_fen bigint, PRIMARY KEY"
                       " (declaration_id, line_no))")
    consumer = AIOKafkaConsumer(f"{namespace}.tax.contribution.declarations",
                                **kafka_options(ADMIN), group_id=f"baseline-{namespace}",
                                enable_auto_commit=False, auto_offset_reset="earliest")
    producer = AIOKafkaProducer(**kafka_options(ADMIN), enable_idempotence=True,
                                acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    done, started = 0, 0.0
    deadline = time.monotonic() + WAIT_S_MAX
    try:
        while done < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            records = [r for batch in batches.values() for r in batch]
            if not records:
                continue
            started = started or time.perf_counter()  # from the first record, as for the service
            rows, outputs = [], []
            for record in records:
                data = loads_strict(record.value)["data"]
                lines = validate_raw(data)
                if lines:
                    rows.extend(lines)
                    outputs.append((record.key, json.dumps(
                        {"declaration_id": data["declaration_id"],
                         "amount_due": format_yuan(sum(r[4] + r[5] for r in lines))}).encode()))
            async with conn.transaction():
                await conn.copy_records_to_table("line", records=rows, schema_name=schema)
            futures = [await producer.send(f"{namespace}.collection.declarations", value=v, key=k)
                       for k, v in outputs]
            await asyncio.gather(*futures)
            await consumer.commit()
            done += len(records)
    finally:
        await consumer.stop()
        await producer.stop()
        await conn.close()
    return done / (time.perf_counter() - started)


def start_service(namespace: str) -> subprocess.Popen[bytes]:
    """collection as itself: its principal and database role (migrate_for_tests first)."""
    env = principal_environ("collection", NAMESPACE=namespace, RULE_SET="local", HTTP_PORT="0",
                            SCHEDULE_ENABLED="false")
    return subprocess.Popen([sys.executable, "-m", "services.collection"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def count_registered(namespace: str, expected: int,
                           arrivals: dict[str, float] | None = None,
                           prefix: str = "", ready: asyncio.Event | None = None,
                           ) -> tuple[float, float]:
    """Read registered events until `expected` arrived; returns when the first and last came.

    With `ready`, reading starts at the topic's end (set once positioned), so timing new events
    is not delayed by parsing the backlog.
    """
    topic = f"{namespace}.collection.declarations"
    consumer = AIOKafkaConsumer(**kafka_options(ADMIN), group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in await partitions_of(consumer, topic)]
    consumer.assign(partitions)
    if ready is not None:
        await consumer.seek_to_end(*partitions)
        for partition in partitions:
            await consumer.position(partition)
        ready.set()
    seen: set[str] = set()
    first = 0.0
    deadline = time.monotonic() + WAIT_S_MAX
    try:
        while len(seen) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.perf_counter()
            for batch in batches.values():
                for record in batch:
                    # No JSON parsing: the reader shares the machine with the service it times.
                    if REGISTERED_MARK not in record.value:
                        continue
                    match = DECLARATION_ID.search(record.value)
                    assert match is not None
                    declaration_id = match.group(1).decode()
                    if declaration_id.startswith(prefix):
                        seen.add(declaration_id)
                        first = first or now
                        if arrivals is not None:
                            arrivals.setdefault(declaration_id, now)
    finally:
        await consumer.stop()
    if len(seen) < expected:
        raise RuntimeError(f"only {len(seen)} of {expected} registered in {WAIT_S_MAX} s")
    return first, time.perf_counter()


async def run_pipeline(namespace: str, count: int,
                       processes: int) -> tuple[float, list[subprocess.Popen[bytes]]]:
    await migrate_for_tests(collection_spec(), namespace)
    services = [start_service(namespace) for _ in range(processes)]
    # Timed from the first registered event, so start-up and group join are not counted (the
    # baseline is timed from its first record the same way); a batch's worth of head start is
    # noise at these counts.
    first, last = await count_registered(namespace, count)
    return count / (last - first), services


async def run_latency(namespace: str, seconds: int) -> dict[str, float]:
    """Publish at RATE_LINES_PER_S for `seconds`, one-line declarations, and time each one."""
    records = [declaration(f"L{namespace}", i) for i in range(RATE_LINES_PER_S * seconds)]
    sent: dict[str, float] = {}
    arrivals: dict[str, float] = {}
    positioned = asyncio.Event()
    reader = asyncio.create_task(count_registered(
        namespace, len(records), arrivals, prefix=f"B-L{namespace}-", ready=positioned))
    await asyncio.wait_for(positioned.wait(), 30)
    producer = AIOKafkaProducer(**kafka_options(ADMIN), enable_idempotence=True,
                                acks="all", linger_ms=2)
    await producer.start()
    try:
        started = time.perf_counter()
        for index, (key, value, declaration_id) in enumerate(records):
            # A steady stream: record i leaves at started + i / rate, checked every 10 records.
            if index % 10 == 0:
                await asyncio.sleep(max(0.0, started + index / RATE_LINES_PER_S
                                        - time.perf_counter()))
            sent[declaration_id] = time.perf_counter()
            await producer.send(f"{namespace}.tax.contribution.declarations", value=value,
                                key=key, headers=[("content-type", CONTENT_TYPE.encode())])
    finally:
        await producer.stop()
    await reader
    latencies = sorted(arrivals[k] - sent[k] for k in sent)
    return {"p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "max_ms": latencies[-1] * 1000, "count": float(len(latencies))}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main(count: int, latency_s: int, processes: int) -> dict[str, Any]:
    results: dict[str, Any] = {"declarations": count, "lines_per_declaration": 1,
                               "service_processes": processes}
    # Six partitions, so one or two service processes (or the baseline) get an even share.
    baseline_ns, pipeline_ns = await create_namespace(6), await create_namespace(6)
    records = [declaration(baseline_ns, i) for i in range(count)]
    await publish_all(f"{baseline_ns}.tax.contribution.declarations", records)
    await publish_all(f"{pipeline_ns}.tax.contribution.declarations", records)
    results["baseline_lines_per_s"] = await run_baseline(baseline_ns, count)
    pipeline_rate, services = await run_pipeline(pipeline_ns, count, processes)
    try:
        results["pipeline_lines_per_s"] = pipeline_rate
        results["ratio"] = pipeline_rate / results["baseline_lines_per_s"]
        results["latency_at_1000_lines_per_s"] = await run_latency(pipeline_ns, latency_s)
        results["service_peak_rss_mb"] = max(peak_rss_mb(s.pid) for s in services)
    finally:
        for service in services:
            service.terminate()
            service.wait(30)
        await remove_created()
    return results


def report(results: dict[str, Any]) -> None:
    latency = results["latency_at_1000_lines_per_s"]
    rows = [
        ("declarations (1 line each)", f"{results['declarations']}"),
        ("baseline raw loop, lines/s", f"{results['baseline_lines_per_s']:.0f}"),
        (f"collection service ({results['service_processes']} process), lines/s",
         f"{results['pipeline_lines_per_s']:.0f}"),
        ("ratio (target >= 0.50)", f"{results['ratio']:.2f}"),
        ("latency p50 at 1,000 lines/s, ms", f"{latency['p50_ms']:.0f}"),
        ("latency p99 at 1,000 lines/s, ms (target < 500)", f"{latency['p99_ms']:.0f}"),
        ("service peak RSS, MB (target < 300)", f"{results['service_peak_rss_mb']:.0f}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        sys.stdout.write(f"{name:<{width}}  {value:>10}\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--declarations", type=int, default=30_000)
    parser.add_argument("--latency-seconds", type=int, default=15)
    parser.add_argument("--service-processes", type=int, default=1, choices=range(1, 5),
                        help="collection processes in one consumer group (the raw loop is one)")
    args = parser.parse_args()
    outcome = asyncio.run(main(args.declarations, args.latency_seconds, args.service_processes))
    Path(REPO / "bench-results").mkdir(exist_ok=True)
    (REPO / "bench-results" / "pipeline.json").write_text(json.dumps(outcome, indent=2))
    report(outcome)
