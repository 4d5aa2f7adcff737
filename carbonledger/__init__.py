"""carbonledger: enterprise carbon accounts from live meter readings.

The ``carbonledger`` package is the small shared core: configuration, the error tree, the wire
format between edge and ingest, the database schema and the command line. It imports no server
dependency at package level, so an edge gateway can use :mod:`carbonledger.wire` with only the
standard library, pydantic and paho-mqtt installed.
"""

__version__ = "0.1.0"
