"""occupational_annuity: members' annuity accounts, upward remittance, 补息 and notional interest.

Policy 二(四)14: 职业年金按时归集上划、补息资金及时拨付到位; 做实职业年金记账部分 (DOMAIN.md,
"Occupational annuity"; events in CONTRACTS.md).

Consumes
- `collection.declarations`: `collection.declaration.registered.v1` (occupational_annuity
  declarations, latest revision kept) and `collection.contribution.settled.v1` (paid/overpaid
  credits the declaration, underpaid is reported); other types on the topic are not ours.
- `transfer.notices`: `transfer.notice.settled.v1` / `transfer.notice.failed.v1` of notices that
  cover this service's requests (remittance ids, top-up assessment ids).
- `ops.commands`: `ops.deadline_check.requested.v1`, `ops.notional_interest.requested.v1`.

Produces
- `annuity.ledger` (key: fiscal entity code; 150000 for a refused notional interest request):
  `annuity.contribution.credited.v1`, `annuity.contribution.uncredited.v1`,
  `annuity.remittance.requested.v1`, `annuity.remittance.completed.v1`,
  `annuity.remittance.overdue.v1`, `annuity.interest_topup.assessed.v1`,
  `annuity.interest_topup.allocated.v1`, `annuity.notional_interest.posted.v1`,
  `annuity.notional_interest.refused.v1`.
- `transfer.requests` (key: source fiscal entity code): `transfer.requested.v1` for remittances
  (purpose annuity_remittance) and top-up funding (purpose annuity_interest_topup).
- `ops.commands` (key: occupational_annuity): `ops.command.rejected.v1`.
- `occupational_annuity.dlq`: unreadable records.
"""

SERVICE_NAME = "occupational_annuity"
