"""occupational_annuity: members' annuity accounts, upward remittance, 补息, notional interest,
做实 of notional balances and 补记 back-credits.

Policy 二(四)14: 职业年金按时归集上划、补息资金及时拨付到位; 做实职业年金记账部分 (DOMAIN.md,
"Occupational annuity"; events in CONTRACTS.md).

Consumes
- `collection.declarations`: `collection.declaration.registered.v1` (occupational_annuity
  declarations, latest revision kept) and `collection.contribution.settled.v1` (paid/overpaid
  credits the declaration, underpaid is reported); other types on the topic are not ours.
- `transfer.notices`: `transfer.notice.settled.v1` / `transfer.notice.failed.v1` of notices that
  cover this service's requests (remittances, top-ups, fundings, back-credits): a request
  completes when the money settled over all its notices reaches its amount.
- `hr.annuity.events` (key: fiscal entity code): `hr.member.retired.v1` (做实 of the member's
  notional balance), `hr.annuity.backcredit.v1` (补记).
- `ops.commands`: `ops.deadline_check.requested.v1`, `ops.notional_interest.requested.v1`,
  `ops.annuity_funding.requested.v1` (做实 of every member of an entity).

Produces
- `annuity.ledger` (key: fiscal entity code; 150000 for a refused notional interest request):
  `annuity.contribution.credited.v1`, `annuity.contribution.uncredited.v1`,
  `annuity.remittance.requested.v1`, `annuity.remittance.completed.v1`,
  `annuity.remittance.overdue.v1`, `annuity.interest_topup.assessed.v1`,
  `annuity.interest_topup.allocated.v1`, `annuity.notional_interest.posted.v1`,
  `annuity.notional_interest.refused.v1`, `annuity.notional_funding.requested.v1`,
  `annuity.notional_funding.completed.v1`, `annuity.backcredit.requested.v1`,
  `annuity.backcredit.completed.v1`, `annuity.hr_event.rejected.v1` (key: the event's entity).
- `transfer.requests` (key: source fiscal entity code): `transfer.requested.v1` for remittances
  (purpose annuity_remittance), top-up funding (annuity_interest_topup), 做实 funding
  (annuity_notional_funding) and back-credits (annuity_backcredit).
- `ops.commands` (key: occupational_annuity): `ops.command.rejected.v1`.
- `occupational_annuity.dlq`: unreadable records.
"""

SERVICE_NAME = "occupational_annuity"
