"""Export the contracts for partners: one JSON Schema per event type, one AsyncAPI per service.

`python -m shared.contracts.export` rewrites `docs/schemas/` and `docs/asyncapi/`;
tests/unit/test_exported_docs.py fails when the committed files differ from a fresh export.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from faststream.specification import AsyncAPI

from shared.contracts.fields import Contract
from shared.service import build_app
from shared.settings import Settings

CONTRACT_MODULES = ("fields", "tax", "collection", "finance", "transfer", "annuity")
SERVICE_APPS = ("collection", "fund_transfer", "occupational_annuity")
REPO = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO / "docs" / "schemas"
ASYNCAPI_DIR = REPO / "docs" / "asyncapi"


def event_models() -> dict[str, type[Contract]]:
    """Every module's EVENT_MODELS: event type -> model of its `data`."""
    models: dict[str, type[Contract]] = {}
    for name in CONTRACT_MODULES:
        module = importlib.import_module(f"shared.contracts.{name}")
        for event_type, model in getattr(module, "EVENT_MODELS", {}).items():
            if event_type in models:
                raise ValueError(f"{event_type} defined twice")
            models[event_type] = model
    return dict(sorted(models.items()))


def render_schemas() -> dict[str, str]:
    rendered: dict[str, str] = {}
    for event_type, model in event_models().items():
        schema: dict[str, Any] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:pension-streams:event:{event_type}",
            "title": event_type,
            "description": (model.__doc__ or "").strip(),
            **model.model_json_schema(mode="validation"),
        }
        schema["title"] = event_type
        rendered[f"{event_type}.json"] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    return rendered


def render_asyncapi() -> dict[str, str]:
    # Building an app connects to nothing; these values only fill the document's server entry.
    settings = Settings(kafka_bootstrap_servers="kafka:9092",
                        database_url="postgresql://docs@localhost/docs")
    rendered: dict[str, str] = {}
    for service in SERVICE_APPS:
        module = importlib.import_module(f"services.{service}.app")
        _, runtime = build_app(module.spec(), settings)
        assert runtime.broker is not None
        document = AsyncAPI(runtime.broker, title=f"pension-streams {service}", version="1.0.0",
                            schema_version="3.0.0")
        jsonable = document.to_specification().to_jsonable()
        rendered[f"{service}.json"] = json.dumps(jsonable, indent=2, ensure_ascii=False) + "\n"
    return rendered


def write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in {p.name for p in directory.glob("*.json")} - set(files):
        (directory / stale).unlink()
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")


def main() -> int:
    write(SCHEMA_DIR, render_schemas())
    write(ASYNCAPI_DIR, render_asyncapi())
    sys.stdout.write(f"wrote {SCHEMA_DIR} and {ASYNCAPI_DIR}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
