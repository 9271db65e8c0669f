"""SQL of occupational_annuity, on its own schema (the pool's search_path); `$1` parameters only.

Set-based: each call reads or writes every row a batch needs with one statement (`unnest`,
COPY), and speaks the typed nouns of model.py. Rows that two batches could race on are locked in
key order (declarations, period accounts, requests), every "at most once" effect has a unique
key that the insert claims, and each batch first takes one lock on the ledger (ledger.py), so a
replay or a concurrent zombie batch finds the work done instead of doing it again.

- ledger: the batch's lock, journal entries, unreadable events kept, gauges;
- credits: declarations, payments and credits;
- requests: remittances, top-ups, transfer requests and their notices;
- funding: members' ledgers, personnel events, 做实 fundings and 补记 back-credits;
- notional: notional interest postings and years.
"""

from services.occupational_annuity.store.assessment import assessment
from services.occupational_annuity.store.credits import (
    add_collected,
    drop_waiting_payments,
    insert_credits,
    insert_payments,
    load_payments,
    lock_annuity_declarations,
    mark_uncredited_reported,
    replace_lines,
    upsert_declarations,
)
from services.occupational_annuity.store.funding import (
    entity_members,
    load_personnel,
    member_ledgers,
    save_fundings,
    save_personnel,
)
from services.occupational_annuity.store.ledger import (
    gauges,
    insert_entries,
    lock_ledger,
    record_ignored,
)
from services.occupational_annuity.store.notional import (
    claim_notional_postings,
    earliest_notional_on,
    mark_year_posted,
    notional_balances,
    posted_years,
)
from services.occupational_annuity.store.requests import (
    claim_notices,
    claim_overdue_reports,
    complete_fundings,
    complete_remittances,
    insert_remittances,
    insert_transfer_requests,
    lock_pending_topup_credits,
    lock_requests,
    lock_topup_counts,
    lock_unrequested_periods,
    mark_allocated,
    open_remittances,
    principals,
    save_topups,
    save_transfer_requests,
)

__all__ = [
    "add_collected",
    "assessment",
    "claim_notices",
    "claim_notional_postings",
    "claim_overdue_reports",
    "complete_fundings",
    "complete_remittances",
    "drop_waiting_payments",
    "earliest_notional_on",
    "entity_members",
    "gauges",
    "insert_credits",
    "insert_entries",
    "insert_payments",
    "insert_remittances",
    "insert_transfer_requests",
    "load_payments",
    "load_personnel",
    "lock_annuity_declarations",
    "lock_ledger",
    "lock_pending_topup_credits",
    "lock_requests",
    "lock_topup_counts",
    "lock_unrequested_periods",
    "mark_allocated",
    "mark_uncredited_reported",
    "mark_year_posted",
    "member_ledgers",
    "notional_balances",
    "open_remittances",
    "posted_years",
    "principals",
    "record_ignored",
    "replace_lines",
    "save_fundings",
    "save_personnel",
    "save_topups",
    "save_transfer_requests",
    "upsert_declarations",
]
