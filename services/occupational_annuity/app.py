"""Composition root of occupational_annuity: its ServiceSpec for shared.service."""

from __future__ import annotations

from services.occupational_annuity import SERVICE_NAME, store
from services.occupational_annuity.handlers import make_handling
from services.occupational_annuity.rules import load_rules
from services.occupational_annuity.validation import DEADLINE_CHECK
from shared.contracts.assessment import ASSESSMENT_REQUESTED
from shared.contracts.topology import SERVICES
from shared.messaging import Handling
from shared.service import Runtime, ServiceSpec, run_service

NAME = SERVICE_NAME
FLOWS = SERVICES[NAME]


def _handler(runtime: Runtime) -> Handling:
    # Rules load at start-up from the settings, never at import: a bad rule file stops the start.
    return make_handling(load_rules(runtime.settings.rule_set))


def spec() -> ServiceSpec:
    return ServiceSpec(
        name=NAME,
        topics=FLOWS.consumed_topics,
        handled_types=FLOWS.handled_types,
        handler_factory=_handler,
        business_gauges=store.gauges,
        migrations_package="services.occupational_annuity.migrations",
        http_port_default=8103,
        scheduled_command_types=(DEADLINE_CHECK, ASSESSMENT_REQUESTED),
        description=__doc__ or "",
    )


def main() -> None:
    run_service(spec())
