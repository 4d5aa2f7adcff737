"""The body of a stored account from what the audit statement read with the access decision.

The statement (``_audit.py``) returns the stored detail as JSON text and the grades as a JSON
array, so the account endpoint needs no query, thread or connection of its own. The body must be
the ledger's :func:`~accounts.ledger.stored_account` dumped (``orjson`` of pydantic's JSON-mode
dump), byte for byte. Validating the whole account with pydantic and dumping it again was most
of a request's cost at province scale, where nearly every read misses the body cache, and the
stored detail already *is* such a dump (``model_dump(mode="json")``): what validation and
dumping change is the order of the keys (``jsonb`` keeps its own), the defaults of fields the
stored row lacks, and the grades.

So :func:`stored_body` re-emits the parsed detail in the model's field order with those
defaults, taking each value as it is only where it is already what pydantic would emit (a
string, integer or boolean of the field's type, a decimal or date in its canonical text; a
datetime goes through pydantic's own validator and serializer). Any value that is not, any
unknown or missing key, gives up on the fast path and the account goes through pydantic as
before, so the body is the same whatever is stored. ``tests/accounts/api/test_api_stored.py``
compares the two. (This belongs in the ledger, beside ``stored_account``; it lives here until
the ledger offers it.)
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import orjson
from pydantic import BaseModel, TypeAdapter

from accounts.ledger import Account, GradeRecord

Emit = Callable[[Any], Any]
"""a JSON value parsed from the stored detail -> the value pydantic's JSON-mode dump gives"""


class NotCanonicalError(ValueError):
    """A stored value is not already what pydantic would emit: the account takes pydantic's
    path instead."""


class UnsupportedFieldError(TypeError):
    """A model field whose validation the fast path cannot mirror (a changed model)."""


def _string(value: Any) -> Any:
    if type(value) is not str:
        raise NotCanonicalError(value)
    return value


def _integer(value: Any) -> Any:
    if type(value) is not int:
        raise NotCanonicalError(value)
    return value


def _boolean(value: Any) -> Any:
    if type(value) is not bool:
        raise NotCanonicalError(value)
    return value


# A decimal string ``str(Decimal(s))`` gives back as is, decided without building the Decimal:
# plain digits, no leading zero, and (below 1) fewer than 6 zeros after the point, past which
# ``str`` writes an exponent ("0.0000001" -> "1E-7"). What it rejects takes the exact check.
_PLAIN_DECIMAL = re.compile(r"-?(?:[1-9][0-9]*(?:\.[0-9]+)?|0(?:\.(?!000000)[0-9]+)?)")


def _decimal(value: Any) -> Any:
    """pydantic reads a decimal string as ``Decimal(value)`` and writes ``str()`` of it."""
    if type(value) is str and _PLAIN_DECIMAL.fullmatch(value):
        return value
    try:
        if type(value) is str and str(number := Decimal(value)) == value and number.is_finite():
            return value
    except InvalidOperation:
        pass
    raise NotCanonicalError(value)


def _date(value: Any) -> Any:
    try:
        if type(value) is str and date.fromisoformat(value).isoformat() == value:
            return value
    except ValueError:
        pass
    raise NotCanonicalError(value)


_DATETIME = TypeAdapter(datetime)


def _datetime(value: Any) -> Any:
    """pydantic's own round trip (its text of a time is its own: microseconds, ``Z``)."""
    if type(value) is not str:
        raise NotCanonicalError(value)
    return _DATETIME.dump_python(_DATETIME.validate_python(value), mode="json")


_SCALARS: dict[Any, Emit] = {
    str: _string,
    int: _integer,
    bool: _boolean,
    Decimal: _decimal,
    date: _date,
    datetime: _datetime,
}


def _optional(inner: Emit) -> Emit:
    def emit(value: Any) -> Any:
        return None if value is None else inner(value)

    return emit


def _list(inner: Emit) -> Emit:
    def emit(value: Any) -> Any:
        if type(value) is not list:
            raise NotCanonicalError(value)
        return [inner(item) for item in value]

    return emit


def _literal(allowed: tuple[Any, ...]) -> Emit:
    def emit(value: Any) -> Any:
        if type(value) is not str or value not in allowed:
            raise NotCanonicalError(value)
        return value

    return emit


def _mapping(inner: Emit) -> Emit:
    def emit(value: Any) -> Any:
        if type(value) is not dict:
            raise NotCanonicalError(value)
        return {key: inner(item) for key, item in value.items()}

    return emit


def _compile(annotation: Any) -> Emit:
    """The emitter of a field's annotation (UnsupportedFieldError for what it cannot mirror)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_emitter(annotation)
    if origin in {types.UnionType, typing.Union} and len(args) == 2 and type(None) in args:
        return _optional(_compile(next(a for a in args if a is not type(None))))
    if origin is list:
        return _list(_compile(args[0]))
    if origin is dict and args[0] is str:
        return _mapping(_compile(args[1]))
    if origin is Literal and all(type(a) is str for a in args):
        return _literal(args)
    raise UnsupportedFieldError(annotation)


def model_emitter(model: type[BaseModel], *, skip: frozenset[str] = frozenset()) -> Emit:
    """The emitter of a model's dump: its fields in order, defaults for those missing, no
    other key (``skip``: fields left out, set by the caller after)."""
    decorators = model.__pydantic_decorators__
    if any((decorators.field_validators, decorators.field_serializers,
            decorators.model_validators, decorators.model_serializers,
            model.model_computed_fields)):  # fmt: skip
        raise UnsupportedFieldError(model)
    fields: list[tuple[str, Emit, bool, Any]] = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        annotation = info.annotation
        if annotation is None or info.alias or info.serialization_alias or info.exclude:
            raise UnsupportedFieldError(f"{model.__name__}.{name}")
        default = None
        if not info.is_required():
            default = TypeAdapter(annotation).dump_python(
                info.get_default(call_default_factory=True), mode="json"
            )
        fields.append((name, _compile(annotation), info.is_required(), default))
    names = frozenset(model.model_fields)

    def emit(value: Any) -> Any:
        if type(value) is not dict or not names.issuperset(value):
            raise NotCanonicalError(model.__name__)
        out = {}
        for name, inner, required, default in fields:
            if name in value:
                out[name] = inner(value[name])
            elif required:
                raise NotCanonicalError(f"{model.__name__}.{name}")
            else:
                out[name] = default
        return out

    return emit


_ACCOUNT = model_emitter(Account, skip=frozenset({"grades"}))
_GRADE_LIST = _list(model_emitter(GradeRecord))
_AFTER_GRADES = list(Account.model_fields)[list(Account.model_fields).index("grades") + 1 :]
_GRADES = TypeAdapter(list[GradeRecord])


def stored_body(detail: str, grades: str | None) -> bytes:
    """The JSON body of the account stored as ``detail`` with these grades (None: none)."""
    stored, graded = orjson.loads(detail), orjson.loads(grades) if grades else []
    try:
        out = _ACCOUNT(stored)
        listed = _GRADE_LIST(graded)
    except NotCanonicalError:
        account = Account.model_validate(stored)
        account.grades = _GRADES.validate_python(graded)
        return dump(account)
    # the grades in their place among the fields (dicts keep insertion order)
    after = {name: out.pop(name) for name in _AFTER_GRADES}
    return orjson.dumps(out | {"grades": listed} | after)


def dump(model: BaseModel | list[GradeRecord]) -> bytes:
    """A model (or grade list) as the API's JSON (orjson of pydantic's JSON-mode dump)."""
    if isinstance(model, list):
        return orjson.dumps([m.model_dump(mode="json") for m in model])
    return orjson.dumps(model.model_dump(mode="json"))
