-- Notional interest years are posted in order, and interest a member missed is credited later
-- (DOMAIN.md "Notional interest of a year"; CONTRACTS.md annuity.notional_interest.*).

-- Each year whose posting was accepted, with the rate it was posted at: a credit of an earlier
-- fee period that arrives after the year was posted earns that year's interest at that rate.
CREATE TABLE notional_year (
    year        integer     PRIMARY KEY,
    rate        text        NOT NULL,
    command_id  text        NOT NULL,
    posted_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO notional_year (year, rate, command_id)
SELECT year, min(rate), min(command_id) FROM notional_posting GROUP BY year;

-- Interest of a posted year that members missed (a late credit, or an earlier year posted
-- after this one), credited to unit_notional as of that year's end: source
-- `notional_adjustment`, one entry per member, year and cause.
ALTER TABLE entry DROP CONSTRAINT entry_source_kind_check;
ALTER TABLE entry ADD CONSTRAINT entry_source_kind_check
    CHECK (source_kind IN ('contribution', 'interest_topup', 'notional_interest',
                           'notional_funding', 'backcredit', 'notional_adjustment'));
