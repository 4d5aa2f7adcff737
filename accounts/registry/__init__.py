"""The registry: enterprises, sites, gateways and meters, their economic data, and the imports.

* :func:`import_registry` applies a registry file (TOML: ``[[enterprise]]``, ``[[site]]``,
  ``[[gateway]]``, ``[[meter]]``); :func:`import_economics` an economic-data CSV (a readings CSV
  is ingest's: :mod:`ingest.backfill`). Each validates every record first and reports every
  fault by file, line and field (:class:`~carbonledger.errors.InvalidImportError`); each import
  is one transaction, re-importing a file changes nothing, and a changed attribute is reported
  with its old and new value.
* :func:`enterprise_details` and :func:`list_enterprises` read it back for people.

The formats are documented in ``docs/imports.md``; the CLI is :mod:`accounts.registry.commands`.
"""

from carbonledger.csvfile import Problems

from ._apply import Change, ImportReport, apply_registry, import_registry
from ._economics import (
    COLUMNS as ECONOMIC_COLUMNS,
)
from ._economics import (
    EconomicRecord,
    apply_economics,
    import_economics,
    parse_period,
    read_economics,
    store_economics,
    validate_economics,
)
from ._lookup import EnterpriseDetails, enterprise_details, list_enterprises
from ._records import (
    CARRIER_QUANTITIES,
    CARRIERS,
    ROLE_CARRIERS,
    ROLES,
    SIZE_CLASSES,
    EnterpriseRecord,
    GatewayRecord,
    MeterRecord,
    SiteRecord,
)
from ._registry_file import RegistryFile, parse_registry, read_registry_file

__all__ = [
    "CARRIERS",
    "CARRIER_QUANTITIES",
    "ECONOMIC_COLUMNS",
    "ROLES",
    "ROLE_CARRIERS",
    "SIZE_CLASSES",
    "Change",
    "EconomicRecord",
    "EnterpriseDetails",
    "EnterpriseRecord",
    "GatewayRecord",
    "ImportReport",
    "MeterRecord",
    "Problems",
    "RegistryFile",
    "SiteRecord",
    "apply_economics",
    "apply_registry",
    "enterprise_details",
    "import_economics",
    "import_registry",
    "list_enterprises",
    "parse_period",
    "parse_registry",
    "read_economics",
    "read_registry_file",
    "store_economics",
    "validate_economics",
]
