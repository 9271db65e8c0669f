"""Every event type of CONTRACTS.md and the `data` field that carries its entity id.

A record whose type is not listed here is a dead letter (`UNKNOWN_TYPE`); a listed type that a
service does not handle (a command meant for another service, an event on a shared topic) is
skipped by that service.
"""

from __future__ import annotations

from typing import Final

ENTITY_FIELDS: Final[dict[str, str]] = {
    # inbound, from partner systems
    "tax.contribution.declared.v1": "declaration_id",
    "tax.contribution.paid.v1": "payment_id",
    "tax.enterprise_annuity.declared.v1": "declaration_id",
    "finance.subsidy.appropriated.v1": "appropriation_id",
    "finance.subsidy.budgeted.v1": "budget_id",
    "finance.transfer.settled.v1": "settlement_id",
    "finance.transfer.failed.v1": "settlement_id",
    "ops.deadline_check.requested.v1": "command_id",
    "ops.notional_interest.requested.v1": "command_id",
    "ops.assessment.requested.v1": "command_id",
    "collection.assessment.computed.v1": "assessment_id",
    "transfer.assessment.computed.v1": "assessment_id",
    "annuity.assessment.computed.v1": "assessment_id",
    "ops.command.rejected.v1": "command_id",
    "ops.dlq_replay.performed.v1": "command_id",  # the operator's audit trail; services skip it
    "ops.annuity_funding.requested.v1": "command_id",
    "hr.member.retired.v1": "retirement_id",
    "hr.annuity.backcredit.v1": "backcredit_id",
    # published by this system (and consumed by its other services)
    "collection.declaration.registered.v1": "declaration_id",
    "collection.declaration.rejected.v1": "declaration_id",
    "collection.contribution.settled.v1": "payment_id",
    "collection.payment.rejected.v1": "payment_id",
    "collection.contribution.overdue.v1": "declaration_id",
    "collection.enterprise_annuity.registered.v1": "declaration_id",
    "collection.enterprise_annuity.rejected.v1": "declaration_id",
    "collection.annuity_base.finding.v1": "finding_id",
    "collection.annuity_base.resolved.v1": "finding_id",
    "transfer.notice.issued.v1": "notice_id",
    "transfer.notice.settled.v1": "notice_id",
    "transfer.notice.failed.v1": "notice_id",
    "transfer.request.rejected.v1": "request_id",
    "transfer.settlement.rejected.v1": "settlement_id",
    "transfer.appropriation.rejected.v1": "appropriation_id",
    "transfer.obligation.fulfilled.v1": "fiscal_entity_code",
    "transfer.obligation.shortfall.v1": "fiscal_entity_code",
    "transfer.obligation.overpaid.v1": "fiscal_entity_code",
    "transfer.requested.v1": "request_id",
    "transfer.budget.recorded.v1": "budget_id",
    "transfer.budget.rejected.v1": "budget_id",
    "transfer.appropriation.missing.v1": "fiscal_entity_code",
    "transfer.appropriation.below_budget.v1": "fiscal_entity_code",
    "annuity.contribution.credited.v1": "declaration_id",
    "annuity.contribution.uncredited.v1": "declaration_id",
    "annuity.remittance.requested.v1": "remittance_id",
    "annuity.remittance.completed.v1": "remittance_id",
    "annuity.remittance.overdue.v1": "remittance_id",
    "annuity.interest_topup.assessed.v1": "assessment_id",
    "annuity.interest_topup.allocated.v1": "assessment_id",
    "annuity.notional_interest.posted.v1": "fiscal_entity_code",
    "annuity.notional_interest.refused.v1": "command_id",
    "annuity.notional_interest.adjusted.v1": "fiscal_entity_code",
    "annuity.notional_funding.requested.v1": "funding_id",
    "annuity.notional_funding.completed.v1": "funding_id",
    "annuity.backcredit.requested.v1": "backcredit_id",
    "annuity.backcredit.completed.v1": "backcredit_id",
    "annuity.hr_event.rejected.v1": "hr_event_id",
}

TOPIC_OPS_COMMANDS: Final = "ops.commands"
DEADLINE_CHECK_REQUESTED: Final = "ops.deadline_check.requested.v1"
NOTIONAL_INTEREST_REQUESTED: Final = "ops.notional_interest.requested.v1"
COMMAND_REJECTED: Final = "ops.command.rejected.v1"
