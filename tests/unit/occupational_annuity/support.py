"""Rules and builders shared by the occupational_annuity unit tests."""

from __future__ import annotations

from services.occupational_annuity.model import Rules
from services.occupational_annuity.rules import load_rules

LOCAL: Rules = load_rules("local")
PRODUCTION: Rules = load_rules("production")

# Valid identity numbers (DOMAIN.md test vectors), sorted ascending.
ALICE = "11010519491231002X"
BOB = "150102198001010014"
CAROL = "150102199001010019"
DAVE = "152921199001010013"
