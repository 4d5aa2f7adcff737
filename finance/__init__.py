"""Climate finance: banks' loan books, financed emissions and the disclosure a bank files.

* :mod:`finance.loans`: a bank's loans (CSV import, API upload, simulator), validated once
  (:func:`validate_loans`) and written in one transaction (:func:`apply_loans`).

Financed emissions follow PCAF Part A for business loans; the disclosure follows JR/T 0227-2021
(docs/finance.md). ``finance`` reads the ledger's accounts and grades, the registry's economic
data and the API's consents; it writes only its own tables (``loans``).
"""

from finance.loans import (
    COLUMNS as LOAN_COLUMNS,
)
from finance.loans import (
    LoanRecord,
    UnknownBankError,
    apply_loans,
    import_loans,
    read_loans,
    validate_loans,
)

__all__ = [
    "LOAN_COLUMNS",
    "LoanRecord",
    "UnknownBankError",
    "apply_loans",
    "import_loans",
    "read_loans",
    "validate_loans",
]
