"""Who publishes and who consumes each topic, with which event types and keys (CONTRACTS.md).

The one place for these flows: each service's consumed topics and handled types come from here
(services/<name>/app.py), and so do the AsyncAPI documents (shared/contracts/export.py). A topic's
event types are what its partner producers publish plus what the services publish on it, so a
type a service starts to publish appears in the documents once it is listed here; tests check
the flows against the registry of event types, the service specs and deploy/topics.txt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from shared.contracts import annuity, assessment, collection, finance, hr, tax, transfer
from shared.contracts.ops import DLQ_REPLAY_PERFORMED
from shared.contracts.registry import (
    COMMAND_REJECTED,
    DEADLINE_CHECK_REQUESTED,
    NOTIONAL_INTEREST_REQUESTED,
    TOPIC_OPS_COMMANDS,
)

SERVICE_NAMES: Final = ("collection", "fund_transfer", "occupational_annuity")

DEAD_LETTER_REASONS: Final = (
    "NOT_JSON", "NOT_CLOUDEVENT", "UNKNOWN_TYPE", "NO_ENTITY_ID", "EMPTY_VALUE", "TOO_LARGE",
)
"""CONTRACTS.md "Readable or not": the values of a dead letter's `x-dlq-reason` header."""

FISCAL_ENTITY_PATTERN: Final = r"^[0-9]{6}$"
TOPIC_HR_EVENTS: Final = hr.TOPIC_HR_EVENTS  # defined with its contracts


@dataclass(frozen=True, slots=True)
class Key:
    """What a topic's records are keyed by: all events about one key stay in order."""

    description: str
    pattern: str | None = None
    enum: tuple[str, ...] = ()


USCC_KEY: Final = Key("the employer's unified social credit code (USCC)", tax.USCC_PATTERN)
ENTITY_KEY: Final = Key("the fiscal entity code (league/city, or 150000 for the region)",
                        FISCAL_ENTITY_PATTERN)
SOURCE_ENTITY_KEY: Final = Key("the fiscal entity code of the transfer's source account",
                               FISCAL_ENTITY_PATTERN)
ECHOED_KEY: Final = Key("the key of the record it answers, as received (possibly malformed)")


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    key: Key
    summary: str
    partner_producers: str = ""
    """Who outside this system publishes on the topic; empty when only the services do."""
    partner_types: tuple[str, ...] = ()
    """The event types those partners publish."""


TOPICS: Final[tuple[Topic, ...]] = (
    Topic(tax.TOPIC_DECLARATIONS, USCC_KEY,
          "Contribution declarations and enterprise annuity filings of employers, from the tax "
          "bureau.",
          "the tax bureau", (tax.DECLARED, tax.ENTERPRISE_ANNUITY_DECLARED)),
    Topic(tax.TOPIC_PAYMENTS, USCC_KEY,
          "Payments the tax bureau received for declarations.",
          "the tax bureau", (tax.PAID,)),
    Topic(finance.TOPIC_APPROPRIATIONS, ENTITY_KEY,
          "Current-period subsidies a league/city appropriates to the regional special account.",
          "league and city finance bureaus", (finance.APPROPRIATED,)),
    Topic(finance.TOPIC_BUDGETS, ENTITY_KEY,
          "Regional finance's yearly budgets of each league/city's subsidies, per fund and month.",
          "regional finance", (finance.BUDGETED,)),
    Topic(finance.TOPIC_SETTLEMENTS, Key(
              "the fiscal entity code of the settled notice's source", FISCAL_ENTITY_PATTERN),
          "Settlements and failures of transfer notices, from the finance systems.",
          "the finance systems", (finance.SETTLED, finance.FAILED)),
    Topic(TOPIC_OPS_COMMANDS, Key("`all` or the name of the service the command is for",
                                  enum=("all", *SERVICE_NAMES)),
          "Operator and scheduler commands (one partition: totally ordered), and their "
          "rejections.",
          "operators (pension-ops)",
          # The operator tool's own audit trail of replays rides with the commands.
          (DEADLINE_CHECK_REQUESTED, NOTIONAL_INTEREST_REQUESTED, DLQ_REPLAY_PERFORMED,
           assessment.ASSESSMENT_REQUESTED,
           annuity.ANNUITY_FUNDING_REQUESTED)),
    Topic(TOPIC_HR_EVENTS, ENTITY_KEY,
          "Retirements (做实 of the member's notional balance) and back-credits (补记) of "
          "occupational annuity members.",
          "personnel (hr) systems of institutions", (hr.MEMBER_RETIRED, hr.BACKCREDIT)),
    Topic(collection.TOPIC_DECLARATIONS, USCC_KEY,
          "Registered and rejected declarations, payments matched to them, overdue employers, "
          "annuity-base findings and the collection assessment figures."),
    Topic(transfer.TOPIC_NOTICES, SOURCE_ENTITY_KEY,
          "Transfer notices for the finance systems to execute, and what became of them."),
    Topic(transfer.TOPIC_OBLIGATIONS, ENTITY_KEY,
          "Subsidy obligations of the leagues/cities: fulfilled, short or overpaid; budgets, "
          "missing appropriations and the transfer assessment figures."),
    Topic(transfer.TOPIC_REQUESTS, SOURCE_ENTITY_KEY,
          "Internal: other services ask fund_transfer to move money."),
    Topic(annuity.TOPIC_LEDGER, ENTITY_KEY,
          "The occupational annuity's credits, remittances, interest top-ups, notional "
          "interest, 做实 fundings, 补记 back-credits, rejected personnel events and the "
          "annuity's assessment figures."),
)

KEY_BY_TYPE: Final[dict[str, Key]] = {
    # A rejection is keyed like the record it answers, which may have been keyed wrongly.
    collection.DECLARATION_REJECTED: ECHOED_KEY,
    collection.PAYMENT_REJECTED: ECHOED_KEY,
    collection.ENTERPRISE_ANNUITY_REJECTED: ECHOED_KEY,
    transfer.REQUEST_REJECTED: ECHOED_KEY,
    transfer.SETTLEMENT_REJECTED: ECHOED_KEY,
    transfer.APPROPRIATION_REJECTED: ECHOED_KEY,
    transfer.BUDGET_REJECTED: ECHOED_KEY,
    COMMAND_REJECTED: Key("the name of the service that rejects the command",
                          enum=SERVICE_NAMES),
    annuity.NOTIONAL_INTEREST_REFUSED: Key("the region's fiscal entity code", enum=("150000",)),
    assessment.COLLECTION_ASSESSED: ENTITY_KEY,
    annuity.HR_EVENT_REJECTED: ECHOED_KEY,
}
"""Event types keyed otherwise than the rest of their topic."""


@dataclass(frozen=True, slots=True)
class Flow:
    """One service's use of one topic: the event types it handles there, or publishes there."""

    topic: str
    event_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServiceFlows:
    name: str
    summary: str
    consumes: tuple[Flow, ...]
    publishes: tuple[Flow, ...]

    @property
    def consumed_topics(self) -> tuple[str, ...]:
        return tuple(flow.topic for flow in self.consumes)

    @property
    def handled_types(self) -> frozenset[str]:
        """Readable events of other types on the consumed topics are skipped, not handled."""
        return frozenset(t for flow in self.consumes for t in flow.event_types)

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.name}.dlq"


# Each service's scheduler publishes its own daily deadline check and monthly assessment on
# ops.commands, and each answers a command it cannot accept there: all are part of what it
# publishes.
_COMMANDS_OUT: Final = Flow(TOPIC_OPS_COMMANDS, (COMMAND_REJECTED, DEADLINE_CHECK_REQUESTED,
                                                assessment.ASSESSMENT_REQUESTED))

SERVICES: Final[dict[str, ServiceFlows]] = {
    "collection": ServiceFlows(
        "collection",
        "Validates and registers contribution declarations, matches payments, computes late "
        "fees and reports overdue employers.",
        consumes=(
            Flow(tax.TOPIC_DECLARATIONS, (tax.DECLARED, tax.ENTERPRISE_ANNUITY_DECLARED)),
            Flow(tax.TOPIC_PAYMENTS, (tax.PAID,)),
            Flow(TOPIC_OPS_COMMANDS, (DEADLINE_CHECK_REQUESTED, assessment.ASSESSMENT_REQUESTED)),
        ),
        publishes=(
            Flow(collection.TOPIC_DECLARATIONS, (
                collection.REGISTERED, collection.DECLARATION_REJECTED, collection.SETTLED,
                collection.PAYMENT_REJECTED, collection.OVERDUE,
                collection.ENTERPRISE_ANNUITY_REGISTERED, collection.ENTERPRISE_ANNUITY_REJECTED,
                collection.ANNUITY_BASE_FINDING, collection.ANNUITY_BASE_RESOLVED,
                assessment.COLLECTION_ASSESSED)),
            _COMMANDS_OUT,
        ),
    ),
    "fund_transfer": ServiceFlows(
        "fund_transfer",
        "Forwards local fiscal subsidies in full to the regional special account and moves the "
        "occupational annuity's money: issues transfer notices, follows their settlements and "
        "reports shortfalls.",
        consumes=(
            Flow(finance.TOPIC_APPROPRIATIONS, (finance.APPROPRIATED,)),
            Flow(finance.TOPIC_BUDGETS, (finance.BUDGETED,)),
            Flow(finance.TOPIC_SETTLEMENTS, (finance.SETTLED, finance.FAILED)),
            Flow(transfer.TOPIC_REQUESTS, (transfer.REQUESTED,)),
            Flow(TOPIC_OPS_COMMANDS, (DEADLINE_CHECK_REQUESTED, assessment.ASSESSMENT_REQUESTED)),
        ),
        publishes=(
            Flow(transfer.TOPIC_NOTICES, (
                transfer.NOTICE_ISSUED, transfer.NOTICE_SETTLED, transfer.NOTICE_FAILED,
                transfer.REQUEST_REJECTED, transfer.SETTLEMENT_REJECTED)),
            Flow(transfer.TOPIC_OBLIGATIONS, (
                transfer.OBLIGATION_FULFILLED, transfer.OBLIGATION_SHORTFALL,
                transfer.OBLIGATION_OVERPAID, transfer.APPROPRIATION_REJECTED,
                transfer.BUDGET_RECORDED, transfer.BUDGET_REJECTED,
                transfer.APPROPRIATION_MISSING, transfer.APPROPRIATION_BELOW_BUDGET,
                assessment.TRANSFER_ASSESSED)),
            _COMMANDS_OUT,
        ),
    ),
    "occupational_annuity": ServiceFlows(
        "occupational_annuity",
        "Keeps members' occupational annuity accounts, remits collected money upward, assesses "
        "and allocates interest top-ups (补息), posts notional interest, funds notional "
        "balances (做实) and credits back-credits (补记).",
        consumes=(
            Flow(collection.TOPIC_DECLARATIONS, (collection.REGISTERED, collection.SETTLED)),
            Flow(transfer.TOPIC_NOTICES, (transfer.NOTICE_SETTLED, transfer.NOTICE_FAILED)),
            Flow(TOPIC_HR_EVENTS, (hr.MEMBER_RETIRED, hr.BACKCREDIT)),
            Flow(TOPIC_OPS_COMMANDS, (DEADLINE_CHECK_REQUESTED, NOTIONAL_INTEREST_REQUESTED,
                                      assessment.ASSESSMENT_REQUESTED,
                                      annuity.ANNUITY_FUNDING_REQUESTED)),
        ),
        publishes=(
            Flow(annuity.TOPIC_LEDGER, (
                annuity.CONTRIBUTION_CREDITED, annuity.CONTRIBUTION_UNCREDITED,
                annuity.REMITTANCE_REQUESTED, annuity.REMITTANCE_COMPLETED,
                annuity.REMITTANCE_OVERDUE, annuity.INTEREST_TOPUP_ASSESSED,
                annuity.INTEREST_TOPUP_ALLOCATED, annuity.NOTIONAL_INTEREST_POSTED,
                annuity.NOTIONAL_INTEREST_REFUSED, annuity.NOTIONAL_INTEREST_ADJUSTED,
                annuity.NOTIONAL_FUNDING_REQUESTED, annuity.NOTIONAL_FUNDING_COMPLETED,
                annuity.BACKCREDIT_REQUESTED, annuity.BACKCREDIT_COMPLETED,
                annuity.HR_EVENT_REJECTED, assessment.ANNUITY_ASSESSED)),
            Flow(transfer.TOPIC_REQUESTS, (transfer.REQUESTED,)),
            _COMMANDS_OUT,
        ),
    ),
}


def topic(name: str) -> Topic:
    for candidate in TOPICS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def types_on(name: str) -> tuple[str, ...]:
    """Every event type that appears on a topic, partners' first, in a stable order."""
    found = list(topic(name).partner_types)
    for service in SERVICES.values():
        for flow in service.publishes:
            if flow.topic == name:
                found.extend(t for t in flow.event_types if t not in found)
    return tuple(found)


def key_of(event_type: str, topic_name: str) -> Key:
    return KEY_BY_TYPE.get(event_type, topic(topic_name).key)


def topic_of(event_type: str) -> str:
    """The one topic an event type travels on (CONTRACTS.md gives each type one topic)."""
    names = [t.name for t in TOPICS if event_type in types_on(t.name)]
    if len(names) != 1:
        raise ValueError(f"{event_type} is on {names or 'no topic'}")
    return names[0]
