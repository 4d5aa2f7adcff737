"""The finance room's errors, under the platform's one root (carbonledger.errors)."""

from __future__ import annotations

from carbonledger.errors import CarbonLedgerError


class FinanceError(CarbonLedgerError):
    """A loan book or a financed-emissions figure cannot be produced as asked."""


class UnknownBankError(FinanceError):
    """The bank of an upload is not registered (``carbonledger keys create --bank``)."""


class NoBookError(FinanceError):
    """The bank has reported no loan book (or no such loan) for the date asked."""
