"""Outbound events built from domain decisions (pure: no I/O, no clock).

`annuity.*` payloads go through the pydantic models of shared/contracts/annuity.py, so a payload
that breaks its contract fails here, at the producer. `transfer.requested.v1` belongs to
fund_transfer's contract; it is built as a plain dict with exactly CONTRACTS.md's fields
("transfer.requests"), and the unit tests check it field by field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from services.occupational_annuity.domain import REGION_CODE
from services.occupational_annuity.model import (
    AdjustmentCause,
    AssessedFigures,
    Backcredit,
    BackcreditCompletion,
    CommandInvalid,
    Credit,
    EntityPosting,
    FundingCompletion,
    NoticeDecision,
    NotionalAdjustment,
    NotionalFunding,
    Outbound,
    PersonnelDecision,
    PersonnelEvent,
    Rate,
    Remittance,
    RemittancePlan,
    TopupAssessment,
    TopupFunding,
)
from shared.contracts import annuity as contract
from shared.contracts.assessment import ANNUITY_ASSESSED, AssessmentCommand
from shared.contracts.fields import CommandRejected, Reason
from shared.contracts.hr import BACKCREDIT, MEMBER_RETIRED
from shared.contracts.registry import TOPIC_OPS_COMMANDS
from shared.ids import assessment_id
from shared.money import format_yuan

SERVICE: Final = "occupational_annuity"
TRANSFER_REQUESTED: Final = "transfer.requested.v1"
TOPIC_TRANSFER_REQUESTS: Final = "transfer.requests"
COMMAND_REJECTED: Final = "ops.command.rejected.v1"
ANNUITY_FUND: Final = "occupational_annuity"
TransferPurpose = Literal["annuity_remittance", "annuity_interest_topup",
                          "annuity_notional_funding", "annuity_backcredit"]


def on_ledger(fiscal_entity_code: str, event_type: str, data: dict[str, Any]) -> Outbound:
    """`annuity.ledger` is keyed by fiscal entity: one entity's events stay in order."""
    return Outbound(contract.TOPIC_LEDGER, fiscal_entity_code, event_type, data)


def to_fund_transfer(data: dict[str, Any]) -> Outbound:
    """`transfer.requests` is keyed by the source fiscal entity (CONTRACTS.md)."""
    return Outbound(TOPIC_TRANSFER_REQUESTS, data["source"]["entity_code"], TRANSFER_REQUESTED,
                    data)


def remittance_requests(plan: RemittancePlan, rule_version: str) -> list[Outbound]:
    """The transfer request to fund_transfer, then its announcement on the ledger."""
    return [to_fund_transfer(remittance_transfer(plan)),
            on_ledger(plan.fiscal_entity_code, contract.REMITTANCE_REQUESTED,
                      remittance_requested(plan, rule_version))]


def topup_assessment(assessment: TopupAssessment) -> list[Outbound]:
    """A total that rounds to 0.00 has nothing to fund: only the assessment is published."""
    out = [to_fund_transfer(topup_transfer(assessment))] if assessment.total_fen > 0 else []
    return [*out, on_ledger(assessment.fiscal_entity_code, contract.INTEREST_TOPUP_ASSESSED,
                            topup_assessed(assessment))]


def notice_effects(decision: NoticeDecision) -> list[Outbound]:
    out = [on_ledger(c.remittance.fiscal_entity_code, contract.REMITTANCE_COMPLETED,
                     remittance_completed(c.remittance, c.notice_id, c.value_date, c.on_time))
           for c in decision.completions]
    out += [on_ledger(a.funding.fiscal_entity_code, contract.INTEREST_TOPUP_ALLOCATED,
                      topup_allocated(a.funding, a.notice_id)) for a in decision.allocations]
    out += [on_ledger(f.funding.fiscal_entity_code, contract.NOTIONAL_FUNDING_COMPLETED,
                      funding_completed(f)) for f in decision.fundings]
    return out + [on_ledger(b.backcredit.fiscal_entity_code, contract.BACKCREDIT_COMPLETED,
                            backcredit_completed(b)) for b in decision.backcredits]


def personnel_effects(decision: PersonnelDecision) -> list[Outbound]:
    """A rejection; or what an accepted event asks for (nothing for a repeat, or when a
    retirement finds nobody to fund)."""
    event = decision.event
    if decision.reasons:
        return [on_ledger(event.key, contract.HR_EVENT_REJECTED,
                          hr_rejected(event, decision.reasons))]
    if decision.funding is not None:
        return funding_requests(decision.funding)
    if decision.backcredit is not None:
        return [to_fund_transfer(backcredit_transfer(decision.backcredit)),
                on_ledger(decision.backcredit.fiscal_entity_code, contract.BACKCREDIT_REQUESTED,
                          backcredit_requested(decision.backcredit))]
    return []


def funding_requests(funding: NotionalFunding) -> list[Outbound]:
    return [to_fund_transfer(funding_transfer(funding)),
            on_ledger(funding.fiscal_entity_code, contract.NOTIONAL_FUNDING_REQUESTED,
                      funding_requested(funding))]


def hr_rejected(event: PersonnelEvent, reasons: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    id_field = f"{event.kind}_id"
    other = "backcredit_id" if event.kind == "retirement" else "retirement_id"
    return contract.HrEventRejected.model_validate({
        "hr_event_type": HR_TYPES[event.kind], "hr_event_id": event.event_id,
        id_field: event.event_id, "reasons": list(reasons),
    }).model_dump(exclude={other})


HR_TYPES: Final = {"retirement": MEMBER_RETIRED, "backcredit": BACKCREDIT}


def funding_transfer(funding: NotionalFunding) -> dict[str, Any]:
    """The entity's treasury funds the notional balances from its special account; `period`
    is the month of `as_of`."""
    return transfer_requested(
        request_id=funding.funding_id, purpose="annuity_notional_funding",
        period=funding.as_of.isoformat()[:7], amount_fen=funding.total_fen,
        source=(funding.fiscal_entity_code, "special"), due_on=funding.due_on)


def funding_requested(funding: NotionalFunding) -> dict[str, Any]:
    return contract.NotionalFundingRequested(
        funding_id=funding.funding_id, fiscal_entity_code=funding.fiscal_entity_code,
        cause=funding.cause, cause_id=funding.cause_id, as_of=funding.as_of.isoformat(),
        members=[contract.FundingMember(person_id=m.person_id, amount=format_yuan(m.amount_fen))
                 for m in funding.members],
        total=format_yuan(funding.total_fen), due_on=funding.due_on.isoformat(),
    ).model_dump()


def funding_completed(completion: FundingCompletion) -> dict[str, Any]:
    funding = completion.funding
    return contract.NotionalFundingCompleted(
        funding_id=funding.funding_id, fiscal_entity_code=funding.fiscal_entity_code,
        amount=format_yuan(funding.total_fen), value_date=completion.value_date.isoformat(),
        notice_id=completion.notice_id, member_count=len(funding.members),
    ).model_dump()


def backcredit_transfer(backcredit: Backcredit) -> dict[str, Any]:
    """The former unit's treasury pays from its special account; `period` is the month of
    `recorded_on`."""
    return transfer_requested(
        request_id=backcredit.request_id, purpose="annuity_backcredit",
        period=backcredit.recorded_on.isoformat()[:7], amount_fen=backcredit.amount_fen,
        source=(backcredit.fiscal_entity_code, "special"), due_on=backcredit.due_on)


def backcredit_requested(backcredit: Backcredit) -> dict[str, Any]:
    return contract.BackcreditRequested(
        backcredit_id=backcredit.backcredit_id, request_id=backcredit.request_id,
        person_id=backcredit.person_id, fiscal_entity_code=backcredit.fiscal_entity_code,
        amount=format_yuan(backcredit.amount_fen), recorded_on=backcredit.recorded_on.isoformat(),
        due_on=backcredit.due_on.isoformat(), document_no=backcredit.document_no,
    ).model_dump()


def backcredit_completed(completion: BackcreditCompletion) -> dict[str, Any]:
    backcredit = completion.backcredit
    return contract.BackcreditCompleted(
        backcredit_id=backcredit.backcredit_id, request_id=backcredit.request_id,
        person_id=backcredit.person_id, fiscal_entity_code=backcredit.fiscal_entity_code,
        amount=format_yuan(backcredit.amount_fen), value_date=completion.value_date.isoformat(),
        notice_id=completion.notice_id,
    ).model_dump()


def command_rejected(invalid: CommandInvalid) -> Outbound:
    data = CommandRejected(
        command_id=invalid.command_id, service=SERVICE,
        reasons=[Reason.model_validate(reason) for reason in invalid.reasons],
    ).model_dump()
    return Outbound(TOPIC_OPS_COMMANDS, SERVICE, COMMAND_REJECTED, data)


def credited(credit: Credit) -> dict[str, Any]:
    declaration = credit.declaration
    return contract.ContributionCredited(
        declaration_id=declaration.declaration_id,
        revision=declaration.revision,
        payment_id=credit.payment_id,
        fiscal_entity_code=declaration.fiscal_entity_code,
        fee_period=declaration.fee_period,
        unit_funding=declaration.unit_funding,
        credits=[
            contract.MemberCredit(
                person_id=m.person_id,
                individual_real=format_yuan(m.individual_real_fen),
                unit_real=format_yuan(m.unit_real_fen),
                unit_notional=format_yuan(m.unit_notional_fen),
            )
            for m in credit.members
        ],
        individual_real_total=format_yuan(credit.total("individual_real")),
        unit_real_total=format_yuan(credit.total("unit_real")),
        unit_notional_total=format_yuan(credit.total("unit_notional")),
    ).model_dump()


def uncredited(declaration_id: str, payment_id: str) -> dict[str, Any]:
    return contract.ContributionUncredited(
        declaration_id=declaration_id, payment_id=payment_id, reason="UNDERPAID"
    ).model_dump()


def transfer_requested(
    *,
    request_id: str,
    purpose: TransferPurpose,
    period: str,
    amount_fen: int,
    source: tuple[str, str],
    due_on: dt.date,
) -> dict[str, Any]:
    """fund_transfer's `transfer.requested.v1`; annuity money always lands at the region's
    collection account (DOMAIN.md, "Accounts")."""
    return {
        "request_id": request_id,
        "purpose": purpose,
        "fund": ANNUITY_FUND,
        "period": period,
        "amount": format_yuan(amount_fen),
        "source": {"entity_code": source[0], "kind": source[1]},
        "target": {"entity_code": REGION_CODE, "kind": "annuity_collection"},
        "due_on": due_on.isoformat(),
    }


def remittance_transfer(plan: RemittancePlan) -> dict[str, Any]:
    return transfer_requested(
        request_id=plan.remittance_id, purpose="annuity_remittance", period=plan.fee_period,
        amount_fen=plan.amount_fen, source=(plan.fiscal_entity_code, "annuity_collection"),
        due_on=plan.due_on,
    )


def remittance_requested(plan: RemittancePlan, rule_version: str) -> dict[str, Any]:
    return contract.RemittanceRequested(
        remittance_id=plan.remittance_id,
        fiscal_entity_code=plan.fiscal_entity_code,
        fee_period=plan.fee_period,
        sequence=plan.sequence,
        amount=format_yuan(plan.amount_fen),
        requested_on=plan.requested_on.isoformat(),
        due_on=plan.due_on.isoformat(),
        rule_version=rule_version,
    ).model_dump()


def remittance_completed(
    remittance: Remittance, notice_id: str, value_date: dt.date, on_time: bool
) -> dict[str, Any]:
    return contract.RemittanceCompleted(
        remittance_id=remittance.remittance_id,
        fiscal_entity_code=remittance.fiscal_entity_code,
        fee_period=remittance.fee_period,
        notice_id=notice_id,
        amount=format_yuan(remittance.amount_fen),
        value_date=value_date.isoformat(),
        on_time=on_time,
    ).model_dump()


def remittance_overdue(remittance: Remittance, as_of: dt.date) -> dict[str, Any]:
    return contract.RemittanceOverdue(
        remittance_id=remittance.remittance_id,
        fiscal_entity_code=remittance.fiscal_entity_code,
        fee_period=remittance.fee_period,
        amount=format_yuan(remittance.amount_fen),
        due_on=remittance.due_on.isoformat(),
        as_of=as_of.isoformat(),
    ).model_dump()


def topup_assessed(assessment: TopupAssessment) -> dict[str, Any]:
    return contract.InterestTopupAssessed(
        assessment_id=assessment.assessment_id,
        sequence=assessment.sequence,
        fiscal_entity_code=assessment.fiscal_entity_code,
        fee_period=assessment.fee_period,
        interest_from=assessment.interest_from.isoformat(),
        interest_to=assessment.interest_to.isoformat(),
        total=format_yuan(assessment.total_fen),
        members=[
            contract.TopupMember(person_id=m.person_id, principal=format_yuan(m.principal_fen),
                                 interest=format_yuan(m.interest_fen))
            for m in assessment.members
        ],
        funding_due_on=assessment.funding_due_on.isoformat(),
        rule_version=assessment.rule_version,
    ).model_dump()


def topup_transfer(assessment: TopupAssessment) -> dict[str, Any]:
    """The paying entity's treasury funds the top-up from its special account."""
    return transfer_requested(
        request_id=assessment.assessment_id, purpose="annuity_interest_topup",
        period=assessment.fee_period, amount_fen=assessment.total_fen,
        source=(assessment.fiscal_entity_code, "special"), due_on=assessment.funding_due_on,
    )


def topup_allocated(funding: TopupFunding, notice_id: str) -> dict[str, Any]:
    return contract.InterestTopupAllocated(
        assessment_id=funding.assessment_id,
        fiscal_entity_code=funding.fiscal_entity_code,
        fee_period=funding.fee_period,
        notice_id=notice_id,
        amount_funded=format_yuan(funding.total_fen),
        allocations=[
            contract.TopupAllocation(person_id=m.person_id, amount=format_yuan(m.interest_fen))
            for m in funding.members
        ],
    ).model_dump()


def notional_posted(
    posting: EntityPosting, year: int, rate: Rate, command_id: str, rule_version: str
) -> dict[str, Any]:
    return contract.NotionalInterestPosted(
        year=year,
        fiscal_entity_code=posting.fiscal_entity_code,
        rate=rate.text,
        member_count=posting.member_count,
        total=format_yuan(posting.total_fen),
        command_id=command_id,
        rule_version=rule_version,
    ).model_dump()


def notional_refused(command_id: str, year: int,
                     reason: contract.RefusalReason = "RATE_NOT_CONFIGURED",
                     unposted_year: int | None = None) -> dict[str, Any]:
    return contract.NotionalInterestRefused(
        command_id=command_id, year=year, reason=reason, unposted_year=unposted_year,
    ).model_dump()


def notional_adjusted(adjustments: Sequence[NotionalAdjustment], rates: Mapping[int, Rate],
                      cause: AdjustmentCause, cause_id: str, rule_version: str
                      ) -> list[Outbound]:
    """One event per (fiscal entity, year) adjusted, in that order; members by person_id."""
    groups: dict[tuple[str, int], list[NotionalAdjustment]] = {}
    for adjustment in adjustments:
        groups.setdefault((adjustment.fiscal_entity_code, adjustment.year), []).append(adjustment)
    return [_adjusted(sorted(group, key=lambda a: a.person_id), rates[year], cause=cause,
                      cause_id=cause_id, rule_version=rule_version)
            for (_, year), group in sorted(groups.items())]


def _adjusted(members: list[NotionalAdjustment], rate: Rate, *, cause: AdjustmentCause,
              cause_id: str, rule_version: str) -> Outbound:
    entity, year = members[0].fiscal_entity_code, members[0].year
    data = contract.NotionalInterestAdjusted(
        fiscal_entity_code=entity, year=year, rate=rate.text, cause=cause, cause_id=cause_id,
        member_count=len(members), total=format_yuan(sum(a.interest_fen for a in members)),
        members=[contract.AdjustedMember(person_id=a.person_id,
                                         interest=format_yuan(a.interest_fen))
                 for a in members],
        rule_version=rule_version).model_dump()
    return on_ledger(entity, contract.NOTIONAL_INTEREST_ADJUSTED, data)


def assessed(figures: AssessedFigures, command: AssessmentCommand,
             rule_version: str) -> Outbound:
    """`annuity.assessment.computed.v1`: one entity's part of the assessment (考核)."""
    return on_ledger(figures.fiscal_entity_code, ANNUITY_ASSESSED, {
        "assessment_id": assessment_id("occupational_annuity", figures.fiscal_entity_code,
                                       command.period, command.command_id),
        "command_id": command.command_id, "fiscal_entity_code": figures.fiscal_entity_code,
        "period": command.period, "as_of": command.as_of.isoformat(),
        "rule_version": rule_version,
        "remittances_requested": figures.remittances_requested,
        "remittances_on_time": figures.remittances_on_time,
        "remittances_overdue": figures.remittances_overdue,
        "amount_remitted": format_yuan(figures.remitted_fen),
        "topups_assessed": figures.topups_assessed, "topups_funded": figures.topups_funded,
    })
