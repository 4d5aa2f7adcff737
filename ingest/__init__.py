"""Ingest: MQTT consumer, payload validation and authorisation, batch writer, dead letters.

Run it with ``carbonledger ingest``; embed it with :class:`IngestService` (see
``docs/operations.md`` for its guarantees and metrics).
"""

from ingest.metrics import IngestMetrics
from ingest.service import IngestService, subscription_filter
from ingest.writer import BatchWriter, Message, WriteResult

__all__ = [
    "BatchWriter",
    "IngestMetrics",
    "IngestService",
    "Message",
    "WriteResult",
    "subscription_filter",
]
