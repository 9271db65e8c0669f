"""Inbound events of the institutions' personnel systems (CONTRACTS.md, `hr.annuity.events`).

These models check the wire shape only: types, patterns, unknown fields. Whether the person is a
member of the entity's occupational annuity (MEMBER_UNKNOWN), and the identity number's and
credit code's check characters, belong to occupational_annuity, which adds its reasons next to
the ones mapped from here.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import StringConstraints

from shared.contracts.fields import NO_CONTROL_CHARACTER_PATTERN, Code6, Contract, Date, Name
from shared.contracts.finance import PositiveMoney
from shared.contracts.tax import PersonId, Uscc

TOPIC_HR_EVENTS: Final = "hr.annuity.events"
MEMBER_RETIRED: Final = "hr.member.retired.v1"
BACKCREDIT: Final = "hr.annuity.backcredit.v1"

HR_EVENT_ID_PATTERN: Final = r"^[A-Z0-9._:-]{1,64}$"
HrEventId = Annotated[str, StringConstraints(pattern=HR_EVENT_ID_PATTERN)]
"""CONTRACTS.md: `retirement_id` and `backcredit_id` are ASCII, upper-case, 1-64 characters."""
ReasonText = Annotated[
    str, StringConstraints(min_length=1, max_length=500, pattern=NO_CONTROL_CHARACTER_PATTERN)
]

HR_CODES: Final[dict[str, str]] = {
    "person_id": "PERSON_ID_INVALID",
    "fiscal_entity_code": "ENTITY_UNKNOWN",
    "employer_uscc": "EMPLOYER_USCC_INVALID",
    "amount": "AMOUNT_INVALID",
    "retired_on": "DATE_INVALID",
    "recorded_on": "DATE_INVALID",
}
"""CONTRACTS.md: a field with a code of its own gets it whatever is wrong with it; a zero or
negative back-credit amount is AMOUNT_INVALID like any other malformed amount."""


class MemberRetired(Contract):
    """`hr.member.retired.v1`: the member retires; their notional (记账) balance must be funded."""

    retirement_id: HrEventId
    person_id: PersonId
    employer_uscc: Uscc
    fiscal_entity_code: Code6
    retired_on: Date


class BackcreditRecorded(Contract):
    """`hr.annuity.backcredit.v1`: 补记, a back-credit whose amount the personnel system
    supplies, funded by the former unit's same-level treasury."""

    backcredit_id: HrEventId
    person_id: PersonId
    employer_uscc: Uscc
    fiscal_entity_code: Code6
    amount: PositiveMoney
    recorded_on: Date
    reason_text: ReasonText
    document_no: Name


EVENT_MODELS: Final[dict[str, type[Contract]]] = {
    MEMBER_RETIRED: MemberRetired,
    BACKCREDIT: BackcreditRecorded,
}
