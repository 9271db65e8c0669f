"""Pure rules of the occupational annuity ledger (DOMAIN.md, "Occupational annuity").

No I/O, no clock, no logging: every date comes in as an argument (`as_of` of a deadline check,
`value_date` of a settlement) and every decision goes out as plain data. Money is integer fen;
interest is an exact Fraction of a fen until its one half-up rounding.

- terms: the configurable rules (rates, days) and the dates they set;
- credit: a paid declaration booked to its members' sub-ledgers;
- remittance: upward remittance of collected money and its deadlines;
- interest: the interest top-up (补息) and the yearly notional interest.
"""

from services.occupational_annuity.domain.credit import (
    Credit,
    CreditDecision,
    Declaration,
    Line,
    MemberCredit,
    Settlement,
    decide_credit,
    member_credits,
    topup_state,
)
from services.occupational_annuity.domain.interest import (
    EntityPosting,
    NotionalBalance,
    NotionalPosting,
    TopupAssessment,
    TopupBlocked,
    TopupMember,
    assess_topup,
    by_entity,
    exact_interest,
    is_funded_in_full,
    missing_rate_years,
    notional_cutoff,
    notional_effective_on,
    notional_interest_fen,
    post_notional,
    round_fraction_half_up,
    split_interest,
)
from services.occupational_annuity.domain.remittance import (
    PeriodPosition,
    RemittancePlan,
    is_on_time,
    is_past_due,
    notice_matches,
    plan_remittances,
)
from services.occupational_annuity.domain.terms import (
    ANNUITY_SCHEME,
    CREDITING_STATUSES,
    DAYS_PER_YEAR,
    REGION_CODE,
    Rate,
    Rules,
    UnitFunding,
    month_after,
    period_start,
    remittance_due_on,
    remittance_request_on,
    topup_interval,
    year_pieces,
)

__all__ = [
    "ANNUITY_SCHEME",
    "CREDITING_STATUSES",
    "DAYS_PER_YEAR",
    "REGION_CODE",
    "Credit",
    "CreditDecision",
    "Declaration",
    "EntityPosting",
    "Line",
    "MemberCredit",
    "NotionalBalance",
    "NotionalPosting",
    "PeriodPosition",
    "Rate",
    "RemittancePlan",
    "Rules",
    "Settlement",
    "TopupAssessment",
    "TopupBlocked",
    "TopupMember",
    "UnitFunding",
    "assess_topup",
    "by_entity",
    "decide_credit",
    "exact_interest",
    "is_funded_in_full",
    "is_on_time",
    "is_past_due",
    "member_credits",
    "missing_rate_years",
    "month_after",
    "notice_matches",
    "notional_cutoff",
    "notional_effective_on",
    "notional_interest_fen",
    "period_start",
    "plan_remittances",
    "post_notional",
    "remittance_due_on",
    "remittance_request_on",
    "round_fraction_half_up",
    "split_interest",
    "topup_interval",
    "topup_state",
    "year_pieces",
]
