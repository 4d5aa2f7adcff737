"""Climate finance: banks' loan books, financed emissions and the disclosure a bank files.

* :mod:`finance.loans`: a bank's loans (CSV import, API upload, simulator), validated once
  (:func:`validate_loans`) and written in one transaction (:func:`apply_loans`).
* :func:`financed_book`: a book's loans with their PCAF attribution, the account version they
  attribute, their financed emissions and data-quality score, and the portfolio metrics;
  :func:`explain_loan` one loan's derivation; :func:`trend` the book month over month.
* :func:`disclosure`: the financed-emissions section of a bank's JR/T 0227-2021 disclosure.
* :func:`city_totals`: every bank's books summed, for the bureau and the regulator.

Financed emissions follow PCAF Part A for business loans (docs/finance.md). ``finance`` reads
the ledger's accounts and grades, the registry's economic data and the API's consents; it
writes only its own table (``loans``).
"""

from finance._attribution import FinancePolicy
from finance._book import METHOD, compute_book, explain_loan, financed_book, trend
from finance._city import BankTotal, CityTotals, city_totals, publish
from finance._errors import FinanceError, NoBookError, UnknownBankError
from finance._inputs import BookInputs, read_book_inputs
from finance._model import (
    Attribution,
    AttributionBasis,
    Book,
    Exposure,
    LoanFigure,
    LoanStatus,
    Metrics,
    Trend,
)
from finance._report import disclosure, disclosure_csv, disclosure_html
from finance.loans import (
    COLUMNS as LOAN_COLUMNS,
)
from finance.loans import (
    LoanRecord,
    apply_loans,
    import_loans,
    read_loans,
    validate_loans,
)

__all__ = [
    "LOAN_COLUMNS",
    "METHOD",
    "Attribution",
    "AttributionBasis",
    "BankTotal",
    "Book",
    "BookInputs",
    "CityTotals",
    "Exposure",
    "FinanceError",
    "FinancePolicy",
    "LoanFigure",
    "LoanRecord",
    "LoanStatus",
    "Metrics",
    "NoBookError",
    "Trend",
    "UnknownBankError",
    "apply_loans",
    "city_totals",
    "compute_book",
    "disclosure",
    "disclosure_csv",
    "disclosure_html",
    "explain_loan",
    "financed_book",
    "import_loans",
    "publish",
    "read_book_inputs",
    "read_loans",
    "trend",
    "validate_loans",
]
