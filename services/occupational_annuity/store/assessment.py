"""The occupational annuity's figures for the assessment (考核) of leagues and cities."""

from __future__ import annotations

import datetime as dt
from typing import Final

import asyncpg

from services.occupational_annuity.model import AssessedFigures

# Per fiscal entity, the remittances and interest top-ups of one fee period as of a date.
_ASSESSMENT_SQL: Final = """
WITH remitted AS (
    SELECT fiscal_entity_code, count(*) AS requested,
           count(*) FILTER (WHERE status = 'completed' AND on_time AND value_date <= $2)
               AS on_time,
           count(*) FILTER (WHERE due_on < $2 AND (status <> 'completed' OR value_date > $2))
               AS overdue,
           coalesce(sum(amount_fen) FILTER (WHERE status = 'completed' AND value_date <= $2),
                    0)::bigint AS remitted_fen
    FROM remittance WHERE fee_period = $1 AND requested_on <= $2 GROUP BY fiscal_entity_code
), topups AS (
    SELECT fiscal_entity_code, count(*) AS assessed,
           count(*) FILTER (WHERE status = 'allocated') AS funded
    FROM topup_assessment WHERE fee_period = $1 AND assessed_on <= $2
    GROUP BY fiscal_entity_code
)
SELECT fiscal_entity_code, coalesce(r.requested, 0) AS remittances_requested,
       coalesce(r.on_time, 0) AS remittances_on_time,
       coalesce(r.overdue, 0) AS remittances_overdue,
       coalesce(r.remitted_fen, 0) AS remitted_fen,
       coalesce(t.assessed, 0) AS topups_assessed, coalesce(t.funded, 0) AS topups_funded
FROM remitted r FULL JOIN topups t USING (fiscal_entity_code)
ORDER BY fiscal_entity_code
"""


async def assessment(conn: asyncpg.Connection, period: str,
                     as_of: dt.date) -> list[AssessedFigures]:
    return [AssessedFigures(**dict(row)) for row in await conn.fetch(_ASSESSMENT_SQL, period,
                                                                      as_of)]
