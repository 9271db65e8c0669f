"""Numbered, forward-only SQL migrations of the occupational_annuity schema."""
