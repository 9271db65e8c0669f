"""The composition root of collection: its ServiceSpec for the shared service shell."""

from __future__ import annotations

from services.collection import SERVICE_NAME, store
from services.collection.handlers import DEADLINE_CHECK, make_handling
from services.collection.rules import load_rules
from shared.contracts.assessment import ASSESSMENT_REQUESTED
from shared.contracts.topology import SERVICES
from shared.messaging import Handling
from shared.service import Runtime, ServiceSpec, run_service

HTTP_PORT_DEFAULT = 8101
FLOWS = SERVICES[SERVICE_NAME]


def _handler_factory(runtime: Runtime) -> Handling:
    # Rules are read and checked at start-up: a bad rule file stops the service before it consumes.
    return make_handling(load_rules(runtime.settings.rule_set))


def spec() -> ServiceSpec:
    return ServiceSpec(
        name=SERVICE_NAME,
        topics=FLOWS.consumed_topics,
        handled_types=FLOWS.handled_types,
        handler_factory=_handler_factory,
        business_gauges=store.gauges,
        migrations_package="services.collection.migrations",
        http_port_default=HTTP_PORT_DEFAULT,
        scheduled_command_types=(DEADLINE_CHECK, ASSESSMENT_REQUESTED),
        description="Validates and registers contribution declarations, matches payments, "
        "computes late fees and reports overdue employers.",
    )


def main() -> None:
    run_service(spec())
