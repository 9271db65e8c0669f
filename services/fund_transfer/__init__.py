"""fund_transfer: local fiscal subsidies forwarded in full to the regional special account.

Policy 二(一)2 确保当期地方财政补助足额上划至自治区财政专户 (DOMAIN.md "Fiscal subsidies").

Consumes:
- `finance.subsidy.appropriations`: `finance.subsidy.appropriated.v1` (one obligation per fiscal
  entity, fund and period; one transfer notice per appropriation).
- `finance.transfer.settlements`: `finance.transfer.settled.v1`, `finance.transfer.failed.v1`.
- `transfer.requests`: `transfer.requested.v1` from occupational_annuity (remittances, top-ups,
  做实 funding of notional balances, 补记 back-credits).
- `ops.commands`: `ops.deadline_check.requested.v1` (shortfalls, once per obligation and date).

Produces:
- `transfer.notices` (key: source fiscal entity code): `transfer.notice.issued.v1`,
  `transfer.notice.settled.v1`, `transfer.notice.failed.v1`, `transfer.request.rejected.v1`,
  `transfer.settlement.rejected.v1`.
- `transfer.obligations` (key: fiscal entity code): `transfer.obligation.fulfilled.v1`,
  `transfer.obligation.shortfall.v1`, `transfer.obligation.overpaid.v1`,
  `transfer.appropriation.rejected.v1`.
- `ops.commands` (key: fund_transfer): `ops.command.rejected.v1`.
- `fund_transfer.dlq`: unreadable records.
"""
