"""Pure rules of the occupational annuity ledger (DOMAIN.md, "Occupational annuity").

No I/O, no clock, no logging: every date comes in as an argument (`as_of` of a deadline check,
`value_date` of a settlement) and every decision goes out as typed data (model.py), journal
entries included, with the sums they must keep asserted where they are made. Money is integer
fen; interest is an exact Fraction of a fen until its one half-up rounding.

- terms: the dates the configurable rules set;
- credit: a paid declaration booked to its members' sub-ledgers;
- remittance: upward remittance of collected money and its deadlines;
- interest: the interest top-up (补息) and the yearly notional interest;
- funding: 做实 of notional balances and 补记 back-credits, from personnel events and commands;
- notices: what fund_transfer's notices do to the requests they cover.
"""

from services.occupational_annuity.domain.credit import (
    collected_by_period,
    credit_entries,
    decide_credit,
    member_credits,
    topup_state,
)
from services.occupational_annuity.domain.funding import (
    PersonnelBook,
    apply_personnel,
    backcredit_entries,
    backcredit_request,
    fund_members,
    funding_entries,
    funding_request,
    member_reasons,
)
from services.occupational_annuity.domain.interest import (
    adjustment_entries,
    assess_topup,
    assess_topups,
    by_entity,
    exact_interest,
    is_funded_in_full,
    late_credit_interest,
    missed_interest,
    missing_rate_years,
    notional_cutoff,
    notional_effective_on,
    notional_entries,
    notional_interest_fen,
    post_notional,
    round_fraction_half_up,
    split_interest,
    topup_entries,
    unposted_year,
    with_adjustments,
)
from services.occupational_annuity.domain.notices import (
    Requests,
    apply_notice,
    remittance_request,
    shares,
    topup_request,
)
from services.occupational_annuity.domain.remittance import (
    is_on_time,
    is_past_due,
    notice_matches,
    past_due,
    plan_remittances,
)
from services.occupational_annuity.domain.terms import (
    ANNUITY_SCHEME,
    CREDITING_STATUSES,
    DAYS_PER_YEAR,
    REGION_CODE,
    month_after,
    period_start,
    remittance_due_on,
    remittance_request_on,
    topup_interval,
    year_pieces,
)
from services.occupational_annuity.model import UnitFunding

__all__ = [
    "ANNUITY_SCHEME",
    "CREDITING_STATUSES",
    "DAYS_PER_YEAR",
    "REGION_CODE",
    "PersonnelBook",
    "Requests",
    "UnitFunding",
    "adjustment_entries",
    "apply_notice",
    "apply_personnel",
    "assess_topup",
    "assess_topups",
    "backcredit_entries",
    "backcredit_request",
    "by_entity",
    "collected_by_period",
    "credit_entries",
    "decide_credit",
    "exact_interest",
    "fund_members",
    "funding_entries",
    "funding_request",
    "is_funded_in_full",
    "is_on_time",
    "is_past_due",
    "late_credit_interest",
    "member_credits",
    "member_reasons",
    "missed_interest",
    "missing_rate_years",
    "month_after",
    "notice_matches",
    "notional_cutoff",
    "notional_effective_on",
    "notional_entries",
    "notional_interest_fen",
    "past_due",
    "period_start",
    "plan_remittances",
    "post_notional",
    "remittance_due_on",
    "remittance_request",
    "remittance_request_on",
    "round_fraction_half_up",
    "shares",
    "split_interest",
    "topup_entries",
    "topup_interval",
    "topup_request",
    "topup_state",
    "unposted_year",
    "with_adjustments",
    "year_pieces",
]
