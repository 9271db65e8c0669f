"""Pydantic v2 models of CONTRACTS.md, one module per producer, plus the wire rules they share."""
