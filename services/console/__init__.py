"""console: the operators' web console, in Chinese, over a read model of its own.

Consumes (through the same effectively-once layer as the services, group `console`):
- `collection.declarations`, `transfer.notices`, `transfer.obligations`, `annuity.ledger`: every
  event, kept in the read model (`event`), from which the month reports are built with
  shared/cli/report_model.py, the code of `pension-ops report`, so both show the same figures.
- `tax.contribution.declarations`, `tax.contribution.payments`: for the declaration trace, and to
  place rejected declarations by their region and fee period exactly as `pension-ops report`
  does (a rejection does not name them).
- `collection.dlq`, `fund_transfer.dlq`, `occupational_annuity.dlq`: copied by position into
  `dlq_record` by a small consumer of its own (dead letters are not CloudEvents), which commits
  its offsets after the database commit.

Produces nothing but its own dead letters (`console.dlq`). Serves pages on 127.0.0.1 (port 8104)
behind a password the local stack generates; /healthz, /readyz and /metrics as every service.
"""
