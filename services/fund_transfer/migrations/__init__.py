"""Numbered, forward-only SQL migrations of the fund_transfer schema."""
