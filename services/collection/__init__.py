"""collection: validates and registers the tax bureau's contribution declarations, matches payments.

Consumes
- `tax.contribution.declarations`: `tax.contribution.declared.v1`
- `tax.contribution.payments`: `tax.contribution.paid.v1`
- `ops.commands` (keyed `all` or `collection`): `ops.deadline_check.requested.v1`

Produces
- `collection.declarations` (key: employer USCC): `collection.declaration.registered.v1`,
  `collection.declaration.rejected.v1`, `collection.contribution.settled.v1`,
  `collection.payment.rejected.v1`, `collection.contribution.overdue.v1`
- `ops.commands` (key `collection`): `ops.command.rejected.v1` for a command it cannot accept
- `collection.dlq`: unreadable records (by the shared messaging layer)
"""

SERVICE_NAME = "collection"
