"""Numbered, forward-only SQL migrations of the collection schema."""
