"""The console works for an operator in a real browser: nothing without the password, every page
opens, the month's figures equal `pension-ops report` for the same events, a trace follows a
declaration into the annuity ledger and transfer notices, a dead letter opens with identity
numbers masked, and sign-ins are limited.

The three services and the console run in this process on a fresh namespace; the demo feeder
walks a small month through them; Debian's Chromium (/usr/bin/chromium), driven by Playwright,
reads the pages. Screenshots go to test-output/browser/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from demo.feed import example_declaration, feed
from demo.generate import FeedConfig, generate_month
from services.collection.app import spec as collection_spec
from services.console.app import spec as console_spec
from services.console.auth import FAILURES_PER_ADDRESS_MAX
from services.console.domain import CONSUMED_TOPICS
from services.fund_transfer.app import spec as fund_transfer_spec
from services.occupational_annuity.app import spec as annuity_spec
from shared.access import FINANCE, OPERATOR, TAX_BUREAU
from shared.cli import main
from shared.cli.common import CliEnv
from shared.cli.kafka import lag_probe
from shared.service import Runtime
from tests.support import (
    REPO_ROOT,
    access_of,
    client_config,
    connect_db,
    console_environ,
    create_namespace,
    publish,
    service_running,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("stack_env")
CHROMIUM = "/usr/bin/chromium"
# The machine notes' flags: without the background-networking ones Chromium keeps trying hosts
# this closed network refuses.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
SCREENSHOTS = REPO_ROOT / "test-output" / "browser"
PERSON_ID = "150102199001010019"
PERIOD = "2025-03"
CONFIG = FeedConfig(employers=30, lines_per_employer=3, seed=13)


@dataclass(frozen=True)
class Console:
    url: str
    password: str
    namespace: str
    service_urls: dict[str, str]


def _url(runtime: Runtime) -> str:
    assert runtime.health is not None
    return f"http://127.0.0.1:{runtime.health.port}"


async def _caught_up(namespace: str, console_group: str) -> bool:
    """The console consumed everything and rebuilt every report it has to."""
    async with lag_probe(access_of(OPERATOR)) as probe:
        lags = await probe.lags({console_group: [f"{namespace}.{t}" for t in CONSUMED_TOPICS]})
    if any(lag.lag for lag in lags):
        return False
    conn = await connect_db(console_group)
    try:
        dirty = await conn.fetchval(
            "SELECT count(*) FROM report_period WHERE dirty_version > built_version")
        copied = await conn.fetchval("SELECT count(*) FROM dlq_record")
        return bool(dirty == 0 and copied >= 1)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def console(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
    namespace = await create_namespace()
    saved = dict(os.environ)
    async with AsyncExitStack() as stack:
        runtimes = {spec.name: await stack.enter_async_context(service_running(spec, namespace))
                    for spec in (collection_spec(), fund_transfer_spec(), annuity_spec())}
        urls = {name: _url(runtime) for name, runtime in runtimes.items()}
        os.environ.update(console_environ(tmp_path_factory.mktemp("console"), urls))
        console_runtime = await stack.enter_async_context(
            service_running(console_spec(), namespace))
        # An unreadable record with an identity number in it: collection dead-letters it.
        await publish(f"{namespace}.tax.contribution.declarations", [
            (b"91150100MA0N5A7B6L", f'{{"person_id": "{PERSON_ID}", "broken'.encode())])
        env = CliEnv.from_environ({**client_config(OPERATOR), "NAMESPACE": namespace,
                                   **{f"PENSION_{n.upper()}_URL": u for n, u in urls.items()}})
        partners = {p: access_of(p) for p in (TAX_BUREAU, FINANCE)}
        outcome = await feed(CONFIG, env, inbound_only=False, wait_s=180, partners=partners)
        assert outcome["missing"] == [], outcome
        await wait_for(lambda: _caught_up(namespace, f"console_{namespace}"), timeout_s=120,
                       what="the console's read model to catch up")
        password = Path(os.environ["CONSOLE_PASSWORD_FILE"]).read_text()
        yield Console(_url(console_runtime), password, namespace, urls)
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                    args=CHROMIUM_FLAGS)
        yield chromium
        await chromium.close()


async def _signed_in(browser: Browser, console: Console) -> Page:
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    await page.goto(console.url + "/login")
    await page.fill("#password", console.password)
    await page.click("#sign-in")
    await page.wait_for_url(re.compile(r".*/overview$"))
    return page


async def _shot(page: Page, name: str) -> None:
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000  # a rendered page, not an empty one


def _get(url: str, cookie: str | None = None) -> tuple[int, str, str]:
    """(status, final URL, body) without following redirects."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return response.status, response.headers.get("Location", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", ""), error.read().decode()


def _post(url: str, form: dict[str, str]) -> tuple[int, dict[str, str]]:
    data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.build_opener().open(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


# ---- signing in ----------------------------------------------------------------------------------


async def test_nothing_is_readable_without_signing_in(console: Console, browser: Browser) -> None:
    for path in ("/overview", "/charts", "/streams", "/trace?declaration_id=D1", "/dlq",
                 "/dlq/collection/0/0"):
        status, location, body = await asyncio.to_thread(_get, console.url + path)
        assert (status, location) == (303, "/login"), path
        assert "内蒙古" not in body
    forged = "pension_console=eyJvcGVyYXRvciI6dHJ1ZX0.forged.signature"
    assert (await asyncio.to_thread(_get, console.url + "/overview", forged))[:2] == (303,
                                                                                      "/login")
    assert (await asyncio.to_thread(_post, console.url + "/logout", {}))[0] == 403
    page = await (await browser.new_context()).new_page()
    await page.goto(console.url + "/dlq")
    assert page.url.endswith("/login")
    await page.fill("#password", "not-the-password")
    await page.click("#sign-in")
    assert await page.inner_text("#login-error") == "密码不正确。"
    assert page.url.endswith("/login")
    await _shot(page, "01-login-refused")


async def test_an_operator_signs_in_with_a_strict_http_only_session(
        console: Console, browser: Browser) -> None:
    page = await _signed_in(browser, console)
    [cookie] = await page.context.cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == (
        "pension_console", True, "Strict")
    assert await page.get_attribute("html", "lang") == "zh-CN"
    await page.click("#logout")
    await page.wait_for_url(re.compile(r".*/login$"))
    await page.goto(console.url + "/overview")
    assert page.url.endswith("/login")


# ---- the month overview equals the report --------------------------------------------------------


async def _cells(page: Page) -> dict[tuple[str, str, str], str]:
    cells = await page.eval_on_selector_all(
        "td[data-section]", "cells => cells.map(c => [c.dataset.section, c.dataset.entity, "
                            "c.dataset.column, c.textContent.trim()])")
    return {(s, e, c): text for s, e, c, text in cells}


async def test_the_overview_shows_exactly_the_figures_of_pension_ops_report(
        console: Console, browser: Browser, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAMESPACE", console.namespace)
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["report", PERIOD, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    page = await _signed_in(browser, console)
    await page.goto(f"{console.url}/overview?period={PERIOD}")
    shown = await _cells(page)
    expected: dict[tuple[str, str, str], str] = {}
    for key, section in report["sections"].items():
        for row in section["rows"]:
            for column in section["columns"]:
                expected[(key, row["fiscal_entity_code"], column["name"])] = str(
                    row[column["name"]])
        for name, value in section["totals"].items():
            expected[(key, "total", name)] = str(value)
    assert shown == expected
    assert report["reconciles"] is True
    assert await page.inner_text("#verdict") == "全部核对一致"
    assert report["sections"]["collection"]["totals"]["registered"] > 0
    assert "呼和浩特市" in await page.inner_text("#section-collection")
    assert "锡林郭勒盟" in await page.inner_text("#section-subsidies")
    await _shot(page, "02-overview")


async def test_the_charts_draw_arrears_per_league_and_city_and_a_trend(
        console: Console, browser: Browser) -> None:
    page = await _signed_in(browser, console)
    await page.goto(f"{console.url}/overview?period={PERIOD}")
    outstanding = {e: t for (s, e, c), t in (await _cells(page)).items()
                   if s == "collection" and c == "outstanding" and e != "total"}
    await page.goto(f"{console.url}/charts?period={PERIOD}&entity=150200")
    bars = await page.eval_on_selector_all(
        "#arrears g", "gs => gs.map(g => [g.dataset.label, g.dataset.value])")
    assert len(bars) == 15
    assert sorted(value for _, value in bars) == sorted(outstanding.values())
    assert len(await page.query_selector_all("#shortfalls g")) == 14
    series = await page.eval_on_selector_all("#trend polyline",
                                             "ps => ps.map(p => p.dataset.series)")
    assert series == ["应缴金额", "已缴金额", "欠缴金额"]
    series = await page.eval_on_selector_all("#transfers polyline",
                                             "ps => ps.map(p => p.dataset.series)")
    assert series == ["补助应上划", "补助已上划", "年金已归集", "年金已上划"]
    assert "包头市 各月征收趋势" in await page.inner_text("main")
    await _shot(page, "03-charts")


# ---- streams ---------------------------------------------------------------------------------


async def test_streams_show_health_lag_and_dead_letters_by_reason(
        console: Console, browser: Browser) -> None:
    page = await _signed_in(browser, console)

    async def polled() -> bool:
        await page.goto(console.url + "/streams")
        return len(await page.query_selector_all("#health tbody tr")) == 3 and bool(
            await page.query_selector_all("#lag tbody tr"))

    await wait_for(polled, timeout_s=30, what="the streams poller's first round")
    for service in ("collection", "fund_transfer", "occupational_annuity"):
        row = await page.inner_text(f'#health tr[data-service="{service}"]')
        assert "up" in row, row
        assert "ready" in row, row
        assert await page.inner_text(
            f'#health tr[data-service="{service}"] td[data-field="outbox_set_aside"]') == "0"
    lag_rows = await page.inner_text("#lag")
    assert f"console_{console.namespace}" in lag_rows
    assert f"collection_{console.namespace}" in lag_rows
    reasons = await page.inner_text("#dead-letter-reasons")
    assert re.search(r"征收服务 collection\s+NOT_JSON 不是 JSON\s+1", reasons), reasons
    await _shot(page, "04-streams")


# ---- trace -----------------------------------------------------------------------------------


async def test_a_trace_follows_a_declaration_into_the_ledger_and_the_notices(
        console: Console, browser: Browser) -> None:
    declaration_id = example_declaration(generate_month(CONFIG))
    page = await _signed_in(browser, console)
    await page.click("text=申报追踪")
    await page.fill("#declaration-id", declaration_id)
    await page.click("#search")
    await page.wait_for_selector("#declaration-events")
    types = await page.eval_on_selector_all("#declaration-events tr[data-type]",
                                            "rows => rows.map(r => r.dataset.type)")
    assert types[0] == "tax.contribution.declared.v1"
    for expected in ("tax.contribution.paid.v1", "collection.declaration.registered.v1",
                     "collection.contribution.settled.v1", "annuity.contribution.credited.v1"):
        assert expected in types
    assert await page.inner_text("#event-count") == str(len(types))
    money = await page.eval_on_selector_all("#money-events tr[data-type]",
                                            "rows => rows.map(r => r.dataset.type)")
    for expected in ("annuity.remittance.requested.v1", "transfer.notice.issued.v1",
                     "transfer.notice.settled.v1", "annuity.remittance.completed.v1"):
        assert expected in money
    assert "(annuity_remittance, attempt 0)" in await page.inner_text("#money-events")
    # The trace is the one page that shows identity numbers in clear.
    details = await page.inner_text("#declaration-events")
    assert re.search(r"\b15[0-9]{16}\b|\b15[0-9]{15}X\b", await page.content())
    assert "**********" not in details
    await _shot(page, "05-trace")


# ---- dead letters --------------------------------------------------------------------------------


async def test_a_dead_letter_opens_read_only_with_identity_numbers_masked(
        console: Console, browser: Browser) -> None:
    page = await _signed_in(browser, console)
    await page.goto(console.url + "/dlq?service=collection")
    assert await page.inner_text("#dlq-count") == "1"
    await _shot(page, "06-dead-letters")
    await page.click("a.dlq-link")
    await page.wait_for_selector("#dlq-value")
    assert (await page.inner_text("#dlq-reason")).startswith("NOT_JSON")
    value = await page.inner_text("#dlq-value")
    assert "1501**********0019" in value
    assert PERSON_ID not in await page.content()
    assert not await page.query_selector_all("form[method=post]:not([action='/logout'])")
    await _shot(page, "07-dead-letter")


# ---- sign-ins are limited (last: it locks this address out for a minute) -----------------------


async def test_repeated_wrong_passwords_are_refused_and_no_log_line_carries_them(
        console: Console, capfd: pytest.CaptureFixture[str]) -> None:
    wrong = "wrong-" + secrets.token_hex(8)
    statuses = [(await asyncio.to_thread(_post, console.url + "/login", {"password": wrong}))[0]
                for _ in range(FAILURES_PER_ADDRESS_MAX)]
    assert statuses == [401] * FAILURES_PER_ADDRESS_MAX
    status, headers = await asyncio.to_thread(_post, console.url + "/login",
                                              {"password": console.password})
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 60
    logged = capfd.readouterr().err
    assert "console.login_failed" in logged
    assert wrong not in logged
    assert console.password not in logged
