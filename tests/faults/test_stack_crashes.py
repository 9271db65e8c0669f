"""A broker killed with -9 or a database stopped immediately mid-load loses and doubles nothing.

The probe service runs as a real process under load; the stack's own process is crashed and
restarted by deploy/stack.sh; after healing and draining, the invariants of
test_probe_faults.check_invariants hold (one effect per input, one id per outbound event, lag 0).
"""

from __future__ import annotations

import asyncio
import random
import subprocess
from pathlib import Path

import pytest

from tests.faults.test_probe_faults import (
    SLOW_MS,
    assert_mid_load,
    check_invariants,
    setup_probe,
    start_probe,
    stop,
)

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("stack_env")]
REPO = Path(__file__).resolve().parents[2]


def stack(*args: str) -> None:
    subprocess.run(["bash", str(REPO / "deploy" / "stack.sh"), *args], check=True,
                   capture_output=True, timeout=180)


@pytest.mark.parametrize("component", ["kafka", "postgres"])
async def test_a_crashed_component_heals_without_loss_or_double_effect(component: str) -> None:
    seed = random.randrange(2**32)
    print(f"seed={seed}")
    name, topic = await setup_probe()
    # The shipped retry budget: the crash must be ridden through without tuning.
    process = start_probe(name, topic, PROBE_SLOW_MS=SLOW_MS)
    try:
        await assert_mid_load(name)
        await asyncio.sleep(random.Random(seed).uniform(0.2, 1.5))
        await asyncio.to_thread(stack, "crash", component)
        await asyncio.sleep(random.Random(seed).uniform(5.0, 8.0))
        await asyncio.to_thread(stack, "up")
        await check_invariants(name, topic)
        assert process.poll() is None, "the service should heal, not stop"
    finally:
        stop(process)
