"""A deterministic, seeded city of metered enterprises that publishes what its gateways would.

The public surface is what ingest tests, the demo and end-to-end accounting tests need: build a
city, step a :class:`Simulation` through it (with :class:`Fault` injection), send the batches over
MQTT with :class:`FleetPublisher` / :func:`publish_ticks`, and compare what was booked against
:func:`expected_consumption`. Load shapes (:mod:`.profiles`) and the CLI (:mod:`.commands`) stay
behind their modules.

Importing this package never imports psycopg: gateways and the publisher need no database driver.
:mod:`simulator.registry` (``simulate register``) is the one module that does, so it is not
re-exported here.
"""

from .city import City, Enterprise, Gateway, Meter, build_city
from .expected import consumption_from_readings, expected_consumption, register_delta
from .publisher import FleetPublisher, PublishStats, publish_ticks
from .simulation import Fault, FaultEvent, FaultRates, OutgoingBatch, Simulation

__all__ = [
    "City",
    "Enterprise",
    "Fault",
    "FaultEvent",
    "FaultRates",
    "FleetPublisher",
    "Gateway",
    "Meter",
    "OutgoingBatch",
    "PublishStats",
    "Simulation",
    "build_city",
    "consumption_from_readings",
    "expected_consumption",
    "publish_ticks",
    "register_delta",
]
