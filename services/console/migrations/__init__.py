"""Numbered, forward-only SQL migrations of the console's read model."""
