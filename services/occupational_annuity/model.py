"""The nouns of occupational_annuity as typed data: what it reads, decides, stores and publishes.

A declaration is what collection registered (the latest revision); a payment is one
`collection.contribution.settled.v1` of it; a credit books a paid declaration to its members'
sub-ledgers as journal entries; a remittance asks fund_transfer to move collected money upward;
a top-up assessment is the interest owed on money collected before investment started; a notice
outcome is what fund_transfer reports about one of our requests. Money is integer fen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from shared.contracts.assessment import AssessmentCommand

UnitFunding = Literal["self", "treasury_full"]
PaymentStatus = Literal["paid", "underpaid", "overpaid"]
SubLedger = Literal["individual_real", "unit_real", "unit_notional", "interest_topup"]
SourceKind = Literal["contribution", "interest_topup", "notional_interest", "notional_funding",
                     "backcredit", "notional_adjustment"]
AdjustmentCause = Literal["late_credit", "late_posting"]
NoticeResult = Literal["settled", "failed"]
RequestPurpose = Literal["annuity_remittance", "annuity_interest_topup",
                         "annuity_notional_funding", "annuity_backcredit"]
FundingCause = Literal["retirement", "command"]
PersonnelKind = Literal["retirement", "backcredit"]
FundingStatus = Literal["requested", "completed"]
RemittanceStatus = Literal["requested", "completed"]
TopupStatus = Literal["funding", "allocated", "nothing_to_fund"]


# ---- rules -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rate:
    """A yearly rate as configured (`text`, echoed on the wire) and as an exact fraction."""

    text: str
    value: Fraction


@dataclass(frozen=True, slots=True)
class Rules:
    """The parameters DOMAIN.md leaves configurable (grade U/C), loaded from rules/*.json."""

    rule_version: str
    investment_start: dt.date
    remittance_request_day: int
    remittance_due_day: int
    topup_funding_days: int
    notional_rates: Mapping[int, Rate]
    notional_funding_days: int
    backcredit_funding_days: int


# ---- declarations, payments, credits -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    person_id: str
    employer_fen: int
    employee_fen: int


@dataclass(frozen=True, slots=True)
class Declaration:
    """The latest registered revision of an occupational annuity declaration."""

    declaration_id: str
    revision: int
    fiscal_entity_code: str
    fee_period: str
    unit_funding: UnitFunding
    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class Registration:
    """A `collection.declaration.registered.v1`: any scheme's id and revision are kept (so the
    payments of other schemes are not held as waiting); annuity ones carry their figures."""

    declaration_id: str
    revision: int
    scheme: str
    declaration: Declaration | None


@dataclass(frozen=True, slots=True)
class PaymentSettled:
    """A `collection.contribution.settled.v1`: one payment and the declaration's status after it."""

    payment_id: str
    declaration_id: str
    revision: int
    status: PaymentStatus
    paid_on: dt.date
    amount_paid_fen: int
    amount_outstanding_fen: int


@dataclass(frozen=True, slots=True)
class DeclarationPayment:
    """A stored payment as the credit decision sees it, in arrival order."""

    payment_id: str
    declaration_id: str
    revision: int
    status: str
    uncredited_reported: bool


@dataclass(frozen=True, slots=True)
class MemberCredit:
    person_id: str
    individual_real_fen: int
    unit_real_fen: int
    unit_notional_fen: int

    @property
    def funded_fen(self) -> int:
        return self.individual_real_fen + self.unit_real_fen


@dataclass(frozen=True, slots=True)
class Credit:
    declaration: Declaration
    payment_id: str
    members: tuple[MemberCredit, ...]

    def total(self, sub_ledger: str) -> int:
        return sum(getattr(member, f"{sub_ledger}_fen") for member in self.members)

    @property
    def funded_fen(self) -> int:
        return self.total("individual_real") + self.total("unit_real")


@dataclass(frozen=True, slots=True)
class CreditDecision:
    credit: Credit | None
    uncredited_payment_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Entry:
    """One journal row: money into (or, for a move, out of) a member's sub-ledger."""

    person_id: str
    sub_ledger: SubLedger
    amount_fen: int
    fiscal_entity_code: str
    fee_period: str | None
    effective_on: dt.date  # from when the money counts (for notional interest)
    source_kind: SourceKind
    source_id: str


# ---- remittance --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeriodPosition:
    """Funded money of one (fiscal entity, fee period): collected, already requested upward."""

    fiscal_entity_code: str
    fee_period: str
    collected_fen: int
    requested_fen: int
    remittance_count: int


@dataclass(frozen=True, slots=True)
class RemittancePlan:
    remittance_id: str
    fiscal_entity_code: str
    fee_period: str
    sequence: int
    amount_fen: int
    requested_on: dt.date
    due_on: dt.date


@dataclass(frozen=True, slots=True)
class Remittance:
    """A requested remittance as stored: open (`requested`) until its notice is settled."""

    remittance_id: str
    fiscal_entity_code: str
    fee_period: str
    sequence: int
    amount_fen: int
    due_on: dt.date
    status: RemittanceStatus


# ---- interest top-up ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopupMember:
    person_id: str
    principal_fen: int
    interest_fen: int


@dataclass(frozen=True, slots=True)
class TopupAssessment:
    assessment_id: str
    sequence: int
    fiscal_entity_code: str
    fee_period: str
    interest_from: dt.date
    interest_to: dt.date
    total_fen: int
    members: tuple[TopupMember, ...]
    funding_due_on: dt.date
    rule_version: str


@dataclass(frozen=True, slots=True)
class TopupBlocked:
    """The interval needs a year with no configured rate: nothing is assessed until there is."""

    fiscal_entity_code: str
    fee_period: str
    missing_years: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TopupRound:
    """What one deadline check decides for the (entity, period) pairs with unassessed credits:
    assessments with the credits they cover, credits with nothing to assess, periods held."""

    assessed: tuple[tuple[TopupAssessment, tuple[str, ...]], ...]
    not_applicable: tuple[str, ...]
    blocked: tuple[TopupBlocked, ...]


@dataclass(frozen=True, slots=True)
class TopupFunding:
    """An assessment as stored, with its members: `funding` until its notice is settled."""

    assessment_id: str
    fiscal_entity_code: str
    fee_period: str
    total_fen: int
    status: TopupStatus
    members: tuple[TopupMember, ...]


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """What this service asked fund_transfer to move, and the money settled so far over all the
    notices of the request; complete once that reaches the amount (`completed_by` the notice)."""

    request_id: str
    purpose: RequestPurpose
    fiscal_entity_code: str
    amount_fen: int
    settled_fen: int = 0
    completed_by: str | None = None
    value_date: dt.date | None = None

    @property
    def completed(self) -> bool:
        return self.completed_by is not None

    @property
    def outstanding_fen(self) -> int:
        return max(0, self.amount_fen - self.settled_fen)


@dataclass(frozen=True, slots=True)
class RemittanceCompletion:
    remittance: Remittance
    notice_id: str
    value_date: dt.date
    on_time: bool


@dataclass(frozen=True, slots=True)
class TopupAllocation:
    funding: TopupFunding
    notice_id: str
    entries: tuple[Entry, ...]


# ---- 做实 (funding notional balances) and 补记 (back-credits) ---------------------------------


@dataclass(frozen=True, slots=True)
class PersonnelEvent:
    """A retirement or back-credit as read: its fields that passed their checks (None where
    not), and every reason found without stored state (`reasons`, empty when it is valid)."""

    kind: PersonnelKind
    event_id: str  # retirement_id or backcredit_id, as sent (echoed when malformed)
    key: str  # the record's key, for a rejection
    content_hash: bytes
    person_id: str | None
    fiscal_entity_code: str | None
    dated_on: dt.date | None  # retired_on or recorded_on
    amount_fen: int | None = None
    document_no: str | None = None
    reasons: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class MemberLedger:
    """What the ledger knows of one member at one entity: the first fee period credited, the
    unit_notional entries (effective date, fen), and whether a funding already covers them."""

    person_id: str
    fiscal_entity_code: str
    first_credit_on: dt.date | None
    notional: tuple[tuple[dt.date, int], ...]
    funded: bool
    interest_by_year: tuple[tuple[int, int], ...] = ()
    """Notional interest credited for each year (posting and adjustments), in fen."""

    def notional_fen(self, as_of: dt.date) -> int:
        return sum(amount_fen for effective_on, amount_fen in self.notional
                   if effective_on <= as_of)


@dataclass(frozen=True, slots=True)
class FundingMember:
    person_id: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class NotionalFunding:
    """做实: the treasury asked to fund these members' notional balances at `as_of`."""

    funding_id: str
    fiscal_entity_code: str
    cause: FundingCause
    cause_id: str
    as_of: dt.date
    due_on: dt.date
    members: tuple[FundingMember, ...]
    total_fen: int
    status: FundingStatus = "requested"


@dataclass(frozen=True, slots=True)
class Backcredit:
    """补记: a back-credit the former unit's treasury is asked to fund."""

    backcredit_id: str
    request_id: str
    person_id: str
    fiscal_entity_code: str
    amount_fen: int
    recorded_on: dt.date
    due_on: dt.date
    document_no: str
    status: FundingStatus = "requested"


@dataclass(frozen=True, slots=True)
class PersonnelDecision:
    """What one personnel event does: rejected with every reason, a repeat of an accepted one
    (nothing), or accepted with the funding or back-credit it asks for (a funding may be None:
    nobody left to fund)."""

    event: PersonnelEvent
    reasons: tuple[dict[str, Any], ...] = ()
    repeat: bool = False
    funding: NotionalFunding | None = None
    backcredit: Backcredit | None = None


@dataclass(frozen=True, slots=True)
class FundingCompletion:
    funding: NotionalFunding
    notice_id: str
    value_date: dt.date
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class BackcreditCompletion:
    backcredit: Backcredit
    notice_id: str
    value_date: dt.date
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class NoticeDecision:
    """What one notice outcome does to the requests it covers: what it completes, and the money
    they still lack after it (`short_fen`, 0 when they are complete)."""

    completions: tuple[RemittanceCompletion, ...] = ()
    allocations: tuple[TopupAllocation, ...] = ()
    fundings: tuple[FundingCompletion, ...] = ()
    backcredits: tuple[BackcreditCompletion, ...] = ()
    short_fen: int = 0


# ---- notional interest -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotionalBalance:
    """A member's unit_notional money at one entity that counts for a year's interest."""

    person_id: str
    fiscal_entity_code: str
    balance_fen: int


@dataclass(frozen=True, slots=True)
class NotionalPosting:
    person_id: str
    fiscal_entity_code: str
    balance_fen: int
    interest_fen: int


@dataclass(frozen=True, slots=True)
class NotionalAdjustment:
    """Interest of a posted year a member missed: what the balance before the year earns at its
    rate, less what was credited for the year already."""

    person_id: str
    fiscal_entity_code: str
    year: int
    balance_fen: int
    interest_fen: int


@dataclass(frozen=True, slots=True)
class EntityPosting:
    fiscal_entity_code: str
    member_count: int
    total_fen: int


# ---- what the service reads: one item per inbound event (validation.py) ------------------------


@dataclass(frozen=True, slots=True)
class NoticeOutcome:
    """A settled or failed `transfer.notice.*` of an annuity purpose."""

    notice_id: str
    attempt: int | None
    purpose: str
    covers: tuple[str, ...]
    amount_fen: int
    amount_settled_fen: int
    result: NoticeResult
    value_date: dt.date | None = None  # settled notices
    reason: str | None = None  # failed notices
    replaced_by: str | None = None


@dataclass(frozen=True, slots=True)
class DeadlineCheck:
    command_id: str
    as_of: dt.date


@dataclass(frozen=True, slots=True)
class NotionalInterestRequest:
    command_id: str
    year: int


@dataclass(frozen=True, slots=True)
class NotionalRefusal:
    """A year's posting refused: no rate, or the year before not posted while money was there
    to earn its interest (`unposted_year`)."""

    command_id: str
    year: int
    reason: Literal["RATE_NOT_CONFIGURED", "PREVIOUS_YEAR_NOT_POSTED"]
    unposted_year: int | None = None


@dataclass(frozen=True, slots=True)
class CommandInvalid:
    """A command this service cannot accept: answered with `ops.command.rejected.v1`."""

    command_id: str
    reasons: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An event of another service that this service's reader's view cannot read: recorded and
    logged, never silently lost (its producer owns the contract, so it is not answered)."""

    event_type: str
    reasons: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Ignored:
    """An unreadable event as recorded: which one, and why."""

    source: str
    event_id: str
    unreadable: Unreadable


@dataclass(frozen=True, slots=True)
class FundingCommand:
    """`ops.annuity_funding.requested.v1`: fund every member of the entity as of `as_of`."""

    command_id: str
    fiscal_entity_code: str
    as_of: dt.date


@dataclass(frozen=True, slots=True)
class AssessedFigures:
    """One entity's remittances and interest top-ups of an assessed fee period."""

    fiscal_entity_code: str
    remittances_requested: int
    remittances_on_time: int
    remittances_overdue: int
    remitted_fen: int
    topups_assessed: int
    topups_funded: int


Command = (DeadlineCheck | NotionalInterestRequest | FundingCommand | AssessmentCommand
           | CommandInvalid)
Item = (Registration | PaymentSettled | NoticeOutcome | PersonnelEvent | Command | Unreadable
        | None)
"""What `validation.check` makes of one event; None: an event on our topics that is not ours
(a subsidy notice)."""


@dataclass(frozen=True, slots=True)
class Outbound:
    """An event to publish."""

    topic: str
    key: str
    event_type: str
    data: dict[str, Any]
