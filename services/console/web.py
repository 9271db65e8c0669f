"""The console's pages (aiohttp, Jinja2 templates with autoescaping), all read-only.

aiohttp rather than the services' hand-written health endpoint (shared/http.py): pages need
forms, cookies, redirects, headers and request limits done right, which a well-kept HTTP
library does and three GET routes did not. Jinja2 escapes every value it renders, so a name or
a dead letter's bytes cannot become markup. No page runs a script (the policy forbids it).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import asyncpg
import jinja2
import orjson
from aiohttp import web

from services.console import auth, charts, labels, store
from services.console.streams import StreamsView
from shared.cli.dlq import render_bytes
from shared.cli.entities import FISCAL_ENTITIES, LEAGUES_AND_CITIES
from shared.cli.trace import Traced, order, traced_event
from shared.logging import get_logger, mask_identity_numbers
from shared.messaging import as_connection

log = get_logger("console.web")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HealthRoute = Callable[[str], Awaitable[tuple[int, str, bytes]]]

PUBLIC_PATHS: Final = frozenset({"/login", "/healthz", "/readyz", "/metrics",
                                 "/static/console.css"})
REQUEST_BODY_BYTES_MAX: Final = 16 * 1024
VALUE_CHARS_SHOWN: Final = 20_000
_PERIOD: Final = re.compile(r"\A[0-9]{4}-(0[1-9]|1[0-2])\Z", re.ASCII)
_ENTITY_ID: Final = re.compile(r"\A[A-Za-z0-9._:-]{1,64}\Z", re.ASCII)
_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@dataclass(slots=True)
class Pages:
    """What the handlers need: the pool, the templates, the sessions and the polled streams."""

    pool: asyncpg.Pool
    sessions: auth.Sessions
    limiter: auth.Limiter
    streams: StreamsView
    health_route: HealthRoute
    templates: jinja2.Environment

    def render(self, name: str, status: int = 200, **context: Any) -> web.Response:
        text = self.templates.get_template(name).render(labels=labels, **context)
        return web.Response(text=text, status=status, content_type="text/html",
                            charset="utf-8")


def templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("services.console", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["masked"] = mask_identity_numbers
    return environment


def build_app(pages: Pages) -> web.Application:
    app = web.Application(middlewares=[_logged, _secured(pages)],
                          client_max_size=REQUEST_BODY_BYTES_MAX)
    app.router.add_get("/login", pages_login_form(pages))
    app.router.add_post("/login", pages_login(pages))
    app.router.add_post("/logout", _logout)
    for path in ("/healthz", "/readyz", "/metrics"):
        app.router.add_get(path, _health(pages))
    app.router.add_get("/static/console.css", _stylesheet)
    app.router.add_get("/", _home)
    app.router.add_get("/overview", _with(pages, overview))
    app.router.add_get("/charts", _with(pages, chart_page))
    app.router.add_get("/streams", _with(pages, streams_page))
    app.router.add_get("/trace", _with(pages, trace_page))
    app.router.add_get("/dlq", _with(pages, dlq_list))
    app.router.add_get("/dlq/{service}/{partition:[0-9]{1,9}}/{offset:[0-9]{1,18}}",
                       _with(pages, dlq_detail))
    return app


# ---- middlewares ------------------------------------------------------------------------------


@web.middleware
async def _logged(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One line per request: path and status, never the query (it may name anything) or a
    form (it holds the password)."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    finally:
        if request.path not in ("/healthz", "/readyz", "/metrics"):
            log.info("http.request", method=request.method, path=request.path, status=status,
                     duration_ms=round((time.perf_counter() - started) * 1000, 1))


def _secured(pages: Pages) -> Any:
    @web.middleware
    async def secured(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in PUBLIC_PATHS and not pages.sessions.valid(
                request.cookies.get(auth.SESSION_COOKIE)):
            if request.method == "GET":
                raise web.HTTPSeeOther("/login")
            raise web.HTTPForbidden(text="sign in first")
        response = await handler(request)
        response.headers.update(_SECURITY_HEADERS)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return secured


# ---- sign-in ------------------------------------------------------------------------------------


def pages_login_form(pages: Pages) -> Handler:
    async def form(request: web.Request) -> web.StreamResponse:
        return pages.render("login.html", error=None)

    return form


def pages_login(pages: Pages) -> Handler:
    async def login(request: web.Request) -> web.StreamResponse:
        address = request.remote or "?"
        wait_s = pages.limiter.retry_after_s(address)
        if wait_s:
            log.warning("console.login_limited", remote=address, retry_after_s=wait_s)
            response = pages.render("login.html", status=429,
                                    error=f"尝试次数过多，请在 {wait_s} 秒后重试。")
            response.headers["Retry-After"] = str(wait_s)
            return response
        form = await request.post()
        offered = form.get("password")
        succeeded = isinstance(offered, str) and pages.sessions.password_matches(offered)
        pages.limiter.record(address, succeeded=succeeded)
        if not succeeded:
            log.warning("console.login_failed", remote=address)
            return pages.render("login.html", status=401, error="密码不正确。")
        log.info("console.login", remote=address)
        response = web.HTTPSeeOther("/overview")
        response.set_cookie(auth.SESSION_COOKIE, pages.sessions.issue(), httponly=True,
                            samesite="Strict", max_age=auth.SESSION_AGE_S, path="/")
        raise response

    return login


async def _logout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther("/login")
    response.del_cookie(auth.SESSION_COOKIE, path="/")
    raise response


def _health(pages: Pages) -> Handler:
    async def health(request: web.Request) -> web.StreamResponse:
        status, content_type, body = await pages.health_route(request.path)
        return web.Response(body=body, status=status, headers={"Content-Type": content_type})

    return health


@functools.cache
def _css() -> str:
    return resources.files("services.console").joinpath("static/console.css").read_text("utf-8")


async def _stylesheet(request: web.Request) -> web.StreamResponse:
    return web.Response(text=_css(), content_type="text/css",
                        headers={"Cache-Control": "max-age=3600"})


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/overview")


PageHandler = Callable[[Pages, asyncpg.Connection, web.Request], Awaitable[web.StreamResponse]]


def _with(pages: Pages, page: PageHandler) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        async with pages.pool.acquire() as proxy:
            return await page(pages, as_connection(proxy), request)

    return handler


# ---- month overview ----------------------------------------------------------------------------


async def _chosen_period(conn: asyncpg.Connection, request: web.Request) -> tuple[str | None,
                                                                                  list[str]]:
    periods = await store.periods(conn)
    asked = request.query.get("period")
    if asked is not None and not _PERIOD.match(asked):
        raise web.HTTPBadRequest(text="period must be YYYY-MM")
    return asked or (periods[-1] if periods else None), periods


async def overview(pages: Pages, conn: asyncpg.Connection,
                   request: web.Request) -> web.StreamResponse:
    period, periods = await _chosen_period(conn, request)
    report = await store.snapshot(conn, period) if period else None
    return pages.render("overview.html", period=period, periods=periods, report=report,
                        pending=await store.pending_periods(conn))


# ---- charts -------------------------------------------------------------------------------------


def _column(report: dict[str, Any], section: str, column: str) -> dict[str, int]:
    rows = report.get("sections", {}).get(section, {}).get("rows", [])
    return {row["fiscal_entity_code"]: charts.fen_of(row.get(column)) for row in rows}


async def chart_page(pages: Pages, conn: asyncpg.Connection,
                     request: web.Request) -> web.StreamResponse:
    period, _ = await _chosen_period(conn, request)
    entity = request.query.get("entity", "150100")
    if entity not in FISCAL_ENTITIES:
        raise web.HTTPBadRequest(text="unknown fiscal entity")
    reports = await store.snapshots(conn)
    arrears, shortfalls = None, None
    if period in reports:
        outstanding = _column(reports[period], "collection", "outstanding")
        short = _column(reports[period], "subsidies", "short")
        arrears = charts.bar_chart(f"{period} 欠缴金额（元）", [
            (name, outstanding.get(code, 0)) for code, name in FISCAL_ENTITIES.items()])
        shortfalls = charts.bar_chart(f"{period} 财政补助短缺（元）", [
            (name, short.get(code, 0)) for code, name in LEAGUES_AND_CITIES.items()])
    ordered = sorted(reports)

    def trend(title: str, lines: tuple[tuple[str, str, str], ...]) -> charts.LineChart:
        return charts.line_chart(f"{FISCAL_ENTITIES[entity]} {title}（元）", ordered, [
            (name, [_column(reports[p], section, column).get(entity, 0) for p in ordered])
            for name, section, column in lines])

    # Two charts: subsidies run to millions, one employer's contributions to thousands.
    contributions = trend("各月征收趋势", (("应缴金额", "collection", "amount_due"),
                                          ("已缴金额", "collection", "amount_paid"),
                                          ("欠缴金额", "collection", "outstanding")))
    transfers = trend("各月补助上划与年金归集趋势", (
        ("补助应上划", "subsidies", "due"), ("补助已上划", "subsidies", "settled"),
        ("年金已归集", "annuity", "collected"), ("年金已上划", "annuity", "remitted")))
    return pages.render("charts.html", period=period, entity=entity, entities=FISCAL_ENTITIES,
                        arrears=arrears, shortfalls=shortfalls,
                        trends=(("trend", contributions), ("transfers", transfers)))


# ---- streams ------------------------------------------------------------------------------------


async def streams_page(pages: Pages, conn: asyncpg.Connection,
                       request: web.Request) -> web.StreamResponse:
    return pages.render("streams.html", view=pages.streams,
                        dead_letters=await store.dead_letter_counts(conn))


# ---- trace --------------------------------------------------------------------------------------


def _traced(row: asyncpg.Record) -> tuple[Traced, str]:
    data = orjson.loads(row["data"])
    event = {"time": row["event_time"], "type": row["event_type"], "id": row["event_id"],
             "data": data}
    pretty = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
    return traced_event(row["topic"], row["kafka_partition"], row["kafka_offset"], event), pretty


async def trace_page(pages: Pages, conn: asyncpg.Connection,
                     request: web.Request) -> web.StreamResponse:
    declaration_id = request.query.get("declaration_id", "").strip()
    if not declaration_id:
        return pages.render("trace.html", declaration_id="", events=None, money=None)
    if not _ENTITY_ID.match(declaration_id):
        raise web.HTTPBadRequest(text="a declaration id is 1-64 of A-Z a-z 0-9 . _ : -")
    rows = await store.declaration_events(conn, declaration_id)
    own = [_traced(row) for row in rows]
    # The money of an annuity declaration goes on in its league/city's remittance and top-up
    # of the same fee period, and the transfer notices that moved them.
    credited = next((orjson.loads(row["data"]) for row in rows
                     if row["event_type"] == "annuity.contribution.credited.v1"), None)
    money = [] if credited is None else [_traced(row) for row in await store.money_events(
        conn, str(credited.get("fiscal_entity_code")), str(credited.get("fee_period")))]
    return pages.render("trace.html", declaration_id=declaration_id, events=_ordered(own),
                        money=_ordered(money))


def _ordered(events: list[tuple[Traced, str]]) -> list[tuple[Traced, str]]:
    details = {id(t): pretty for t, pretty in events}
    return [(t, details[id(t)]) for t in order([t for t, _ in events])]


# ---- dead letters -------------------------------------------------------------------------------


async def dlq_list(pages: Pages, conn: asyncpg.Connection,
                   request: web.Request) -> web.StreamResponse:
    service = request.query.get("service") or None
    reason = request.query.get("reason") or None
    if service is not None and service not in labels.SERVICES:
        raise web.HTTPBadRequest(text="unknown service")
    rows = await store.dead_letters(conn, service, reason)
    return pages.render("dlq_list.html", rows=rows, service=service, reason=reason,
                        counts=await store.dead_letter_counts(conn),
                        key_text=lambda raw: render_bytes(raw, 40)[0],
                        page_rows=store.DLQ_PAGE_ROWS)


async def dlq_detail(pages: Pages, conn: asyncpg.Connection,
                     request: web.Request) -> web.StreamResponse:
    service = request.match_info["service"]
    if service not in labels.SERVICES:
        raise web.HTTPNotFound(text="unknown service")
    row = await store.dead_letter(conn, service, int(request.match_info["partition"]),
                                  int(request.match_info["offset"]))
    if row is None:
        raise web.HTTPNotFound(text="no such dead letter")
    value, encoding, truncated = render_bytes(row["value"], VALUE_CHARS_SHOWN)
    return pages.render("dlq_detail.html", row=row, headers=orjson.loads(row["headers"]),
                        key=render_bytes(row["key"], None)[0], value=value, encoding=encoding,
                        truncated=truncated or row["value_bytes"] > len(row["value"] or b""))
