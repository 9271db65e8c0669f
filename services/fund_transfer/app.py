"""Composition root of fund_transfer: its settings, its ServiceSpec for shared.service, main()."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.fund_transfer import store
from services.fund_transfer.handlers import make_handling
from services.fund_transfer.model import NOTICE_ATTEMPT_COUNT_MAX_DEFAULT, Rules
from services.fund_transfer.rules import load_account_book
from services.fund_transfer.validation import DEADLINE_CHECK
from shared.contracts.assessment import ASSESSMENT_REQUESTED
from shared.contracts.topology import SERVICES
from shared.logging import get_logger
from shared.messaging import Handling
from shared.service import Runtime, ServiceSpec, run_service

NAME = "fund_transfer"
FLOWS = SERVICES[NAME]
log = get_logger(NAME)


class FundTransferSettings(BaseSettings):
    """This service's own limits and data, from `FUND_TRANSFER_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="FUND_TRANSFER_", extra="ignore", frozen=True)

    notice_attempt_count_max: int = Field(NOTICE_ATTEMPT_COUNT_MAX_DEFAULT, ge=1, le=100)
    # None: the packaged book, whose account numbers are labelled samples (rules/accounts.json).
    accounts_file: Path | None = None


def _handler(runtime: Runtime) -> Handling:
    # The book loads at start-up, never at import: a broken book stops the start.
    config = FundTransferSettings()
    book = load_account_book(config.accounts_file)
    if config.accounts_file is None and runtime.settings.rule_set == "production":
        log.warning("accounts.sample_book", detail="notices carry SAMPLE account numbers; "
                    "set FUND_TRANSFER_ACCOUNTS_FILE to the finance department's register")
    return make_handling(Rules(book, config.notice_attempt_count_max))


def spec() -> ServiceSpec:
    return ServiceSpec(
        name=NAME,
        topics=FLOWS.consumed_topics,
        handled_types=FLOWS.handled_types,
        handler_factory=_handler,
        migrations_package="services.fund_transfer.migrations",
        http_port_default=8102,
        scheduled_command_types=(DEADLINE_CHECK, ASSESSMENT_REQUESTED),
        description=__doc__ or "",
        business_gauges=store.gauges,
    )


def main() -> None:
    run_service(spec())
