"""What one record can cost a service before it is answered: the worst inputs the contract allows.

Each input is read (shared.contracts.wire) and checked by the service that consumes it, exactly as
the messaging layer does per record, and compared with the largest valid declaration (5,000 lines,
about 2.2 MB). Each input is measured in a process of its own: CPU time (best of 3 runs) and the
growth of peak resident memory (VmHWM) over what the process held with the record in hand. Prints
a table and writes bench-results/hostile.json. No broker or database needed: the per-record cost
is all in the process.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from services.collection.rules import load_rules
from services.collection.validation import check_declaration, check_payment
from services.fund_transfer import validation as fund_validation
from services.fund_transfer.model import Rules as FundRules
from services.fund_transfer.rules import load_account_book
from shared.contracts.registry import ENTITY_FIELDS
from shared.contracts.wire import RECORD_BYTES_MAX, DeadLetter, read_envelope
from tests.unit.collection import factory

REPO = Path(__file__).resolve().parents[1]
RUNS = 3
COLLECTION_RULES = load_rules("local")
FUND_RULES = FundRules(load_account_book(None), 3)


def envelope(event_type: str, data: dict[str, Any], compact: bool = False) -> bytes:
    event = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/tax/150000",
             "type": event_type, "time": "2025-03-12T10:00:00+08:00",
             "datacontenttype": "application/json", "data": data}
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(event, ensure_ascii=False, separators=separators).encode()


def declaration(lines: Any = None, **changes: Any) -> bytes:
    data = factory.declaration(bases=("24537.00",) * 5000)
    for line in data["lines"]:
        line["person_name"] = "某" * 100
    data.update(changes)
    if lines is not None:
        data["lines"] = lines
    return envelope("tax.contribution.declared.v1", data, compact=True)


def filling(pattern: bytes, head: bytes, tail: bytes) -> bytes:
    """`head` + as many `pattern` as fit under the record limit + `tail`."""
    count = (RECORD_BYTES_MAX - len(head) - len(tail) - 64) // len(pattern)
    return head + pattern * count + tail


def inputs() -> dict[str, bytes]:
    valid = declaration()
    unknown = factory.declaration(bases=("6000.00",) * 5000)
    for line in unknown["lines"]:
        line.update({f"unknown_{k:02d}": "v" for k in range(30)})
    every_field_wrong = [{"line_no": "x", "person_id": 1, "person_name": 2, "base": 3,
                          "employer_amount": 4, "employee_amount": 5}] * 5000
    head = envelope("tax.contribution.declared.v1", {"declaration_id": "D-1", "lines": "@"},
                    compact=True).split(b'"@"')
    appropriation_head = envelope("finance.subsidy.appropriated.v1", {
        "appropriation_id": "A-1", "fiscal_entity_code": "150200", "fund": "x"}, compact=True)
    return {
        "largest valid declaration (5,000 lines)": valid,
        "1.3 million empty lines": envelope("tax.contribution.declared.v1", {
            **json.loads(valid)["data"], "lines": [{}] * 1_300_000}, compact=True),
        "5,000 lines x 30 unknown fields": envelope("tax.contribution.declared.v1", unknown,
                                                    compact=True),
        "5,000 lines, every field wrong": declaration(every_field_wrong),
        "one 4 MiB string": declaration([], employer_name="x" * (RECORD_BYTES_MAX - 2000)),
        "lines of 32-deep nesting": filling(b"[" * 30 + b"]" * 30 + b",", head[0] + b"[",
                                            b"[]]" + head[1]),
        "lone surrogate at the end": filling(b'"aaaaaaaaaaaaaaa",', head[0] + b"[",
                                             b'"\\ud800"]' + head[1]),
        "duplicate key at the end": filling(b'{"a":1},', head[0] + b"[", b'{"a":1,"a":2}]'
                                            + head[1]),
        "2 million integers": filling(b"1,", head[0] + b"[", b"1]" + head[1]),
        "payment, 250,000 unknown fields": envelope("tax.contribution.paid.v1", {
            "payment_id": "P-1", **{f"k{i}": 0 for i in range(250_000)}}, compact=True),
        "appropriation, 250,000 unknown fields": appropriation_head[:-2] + b"," + b",".join(
            f'"k{i}":0'.encode() for i in range(250_000)) + b"}}",
    }


def read_and_check(raw: bytes) -> str:
    """What the messaging layer does for one record before its transaction: the verdict."""
    try:
        event = read_envelope(raw, ENTITY_FIELDS)
    except DeadLetter as letter:
        return f"dead letter {letter.reason}"
    if event.type == "tax.contribution.declared.v1":
        result = check_declaration(event.data, event.entity_id, COLLECTION_RULES)
        return f"{len(result.reasons)} reasons (+{result.reasons_more})" if result.reasons \
            else "registered"
    if event.type == "tax.contribution.paid.v1":
        return f"{len(check_payment(event.data, event.entity_id).reasons)} reasons"
    item = fund_validation.parse(event.type, event.data, "150200", FUND_RULES)
    return f"{len(getattr(item, 'reasons', ()))} reasons"


def measure(path: Path) -> dict[str, Any]:
    """In this process: the verdict, best CPU ms and peak resident growth for one record."""
    raw = path.read_bytes()
    read_and_check(declaration_sized_warmup())  # imports and caches, before the baseline
    gc.collect()
    baseline_kib = _peak_rss_kib()
    best_s = float("inf")
    verdict = ""
    for _ in range(RUNS):
        started = time.process_time()
        verdict = read_and_check(raw)
        best_s = min(best_s, time.process_time() - started)
        gc.collect()
    return {"verdict": verdict, "cpu_ms": round(best_s * 1000, 1),
            "peak_mib": round((_peak_rss_kib() - baseline_kib) / 1024, 1)}


def declaration_sized_warmup() -> bytes:
    return envelope("tax.contribution.declared.v1", factory.declaration())


def _peak_rss_kib() -> int:
    """VmHWM: the process's peak resident set, which only grows."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench-results" / "hostile.json")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # one input, internal
    args = parser.parse_args(argv)
    if args.measure is not None:
        print(json.dumps(measure(args.measure)))
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for number, (name, raw) in enumerate(inputs().items()):
            path = Path(folder) / f"{number}.json"
            path.write_bytes(raw)
            result = subprocess.run(  # noqa: S603  # our own interpreter and module
                [sys.executable, "-m", "bench.hostile", "--measure", str(path)],
                capture_output=True, text=True, check=True, timeout=600, cwd=REPO)
            rows.append({"input": name, "bytes": len(raw), **json.loads(result.stdout)})
    print_table(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows}, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")
    return 0


def print_table(rows: list[dict[str, Any]]) -> None:
    base = rows[0]
    print("Per-record cost of reading and checking, each input in a process of its own "
          "(CPU: best of 3; memory: growth of peak resident set)")
    print(f"{'input':<42} {'MB':>5} {'CPU ms':>8} {'x valid':>8} {'peak MiB':>9} {'x valid':>8}"
          "  verdict")
    for row in rows:
        row["cpu_x_valid"] = round(row["cpu_ms"] / base["cpu_ms"], 2)
        row["peak_x_valid"] = round(row["peak_mib"] / max(base["peak_mib"], 0.1), 2)
        print(f"{row['input']:<42} {row['bytes'] / 1e6:>5.2f} {row['cpu_ms']:>8.1f} "
              f"{row['cpu_x_valid']:>8.2f} {row['peak_mib']:>9.1f} {row['peak_x_valid']:>8.2f}"
              f"  {row['verdict']}")


if __name__ == "__main__":
    raise SystemExit(main())
