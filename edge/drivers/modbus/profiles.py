"""Meter models as data: ``profiles/*.toml``, one file per model, validated at start-up.

A profile lists registers: wire address, function code (3 holding / 4 input), data type, word and
byte order, scale, unit and wire quantity. ``scale`` belongs to the register's encoding (W → kW,
0.01 kWh steps); CT/PT ratios never appear here: the registry's ``meters.multiplier`` holds them.
Adding a model is adding a file; a profile that is wrong fails with its file, key and problem.
"""

from __future__ import annotations

import struct
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carbonledger.errors import ConfigError, FramingError
from carbonledger.wire import QUANTITIES

BUILTIN = Path(__file__).with_name("profiles")
# type → (registers, struct code)
TYPES: dict[str, tuple[int, str]] = {
    "int16": (1, "h"),
    "uint16": (1, "H"),
    "int32": (2, "i"),
    "uint32": (2, "I"),
    "int64": (4, "q"),
    "uint64": (4, "Q"),
    "float32": (2, "f"),
    "float64": (4, "d"),
}
ORDERS = ("big", "little")
_PROFILE_KEYS = {"model", "function", "word_order", "byte_order", "registers", "description"}
_REGISTER_KEYS = {"quantity", "address", "type", "unit", "scale", "function", "word_order",
                  "byte_order"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Register:
    quantity: str
    address: int  # wire address (documentation number minus one, minus the 30001/40001 base)
    type: str
    function: int
    word_order: str = "big"  # "big": high word first
    byte_order: str = "big"  # within a word
    scale: float = 1.0
    unit: str = ""

    @property
    def count(self) -> int:
        return TYPES[self.type][0]

    def decode(self, words: Sequence[int]) -> float:
        """Registers as read → the value in the quantity's unit (scale applied, nothing else)."""
        if len(words) != self.count:
            raise FramingError(f"{self.type} needs {self.count} registers, got {len(words)}")
        ordered = list(words) if self.word_order == "big" else list(words)[::-1]
        raw = b"".join(
            w.to_bytes(2, "big" if self.byte_order == "big" else "little") for w in ordered
        )
        (value,) = struct.unpack(">" + TYPES[self.type][1], raw)
        return float(value) * self.scale


def encode(type_: str, value: float | int, word_order: str = "big") -> list[int]:
    """The registers a meter would hold for ``value`` (simulators and tests)."""
    size, code = TYPES[type_]
    raw = struct.pack(">" + code, value if code in "fd" else int(value))
    words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, 2 * size, 2)]
    return words if word_order == "big" else words[::-1]


@dataclass(frozen=True, slots=True)
class Profile:
    name: str  # the file's stem, as device configs refer to it
    model: str
    registers: tuple[Register, ...]
    path: Path


def load_profiles(extra_dirs: Iterable[Path] = ()) -> dict[str, Profile]:
    """Every ``*.toml`` in the built-in folder and ``extra_dirs`` (a later file of the same name
    replaces an earlier one, so a site can override a built-in model)."""
    profiles: dict[str, Profile] = {}
    for folder in (BUILTIN, *extra_dirs):
        if not folder.is_dir():
            raise ConfigError(f"{folder}: profile folder does not exist")
        for path in sorted(folder.glob("*.toml")):
            profiles[path.stem] = load_profile(path)
    return profiles


def load_profile(path: Path) -> Profile:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    _no_unknown(path, "", doc, _PROFILE_KEYS)
    model = doc.get("model")
    if not isinstance(model, str) or not model:
        raise ConfigError(f"{path}: model: missing or not a string")
    items = doc.get("registers")
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{path}: registers: needs at least one [[registers]] table")
    registers = tuple(_register(path, i, item, doc) for i, item in enumerate(items))
    seen: set[str] = set()
    for i, reg in enumerate(registers):
        if reg.quantity in seen:
            raise ConfigError(f"{path}: registers[{i}].quantity: {reg.quantity!r} appears twice")
        seen.add(reg.quantity)
    return Profile(path.stem, model, registers, path)


def _register(path: Path, index: int, item: Any, defaults: dict[str, Any]) -> Register:
    where = f"registers[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f"{path}: {where}: not a table")
    _no_unknown(path, where + ".", item, _REGISTER_KEYS)

    def get(key: str, kind: type | tuple[type, ...], fallback: Any = None) -> Any:
        value = item.get(key, defaults.get(key, fallback))
        if value is None:
            raise ConfigError(f"{path}: {where}.{key}: missing")
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ConfigError(f"{path}: {where}.{key}: {value!r} has the wrong type")
        return value

    quantity, unit = get("quantity", str), get("unit", str)
    if quantity not in QUANTITIES:
        raise ConfigError(f"{path}: {where}.quantity: {quantity!r} is not a wire quantity")
    if unit != QUANTITIES[quantity].unit:
        canonical = QUANTITIES[quantity].unit
        raise ConfigError(f"{path}: {where}.unit: {unit!r} but {quantity} is in {canonical!r}")
    address, type_ = get("address", int), get("type", str)
    function, scale = get("function", int), float(get("scale", (int, float), 1.0))
    word_order, byte_order = get("word_order", str, "big"), get("byte_order", str, "big")
    problems = {
        "address": None if 0 <= address <= 0xFFFF else "is not 0..65535",
        "type": None if type_ in TYPES else f"is not one of {', '.join(TYPES)}",
        "function": None if function in (3, 4) else "is not 3 or 4",
        "word_order": None if word_order in ORDERS else "is not big or little",
        "byte_order": None if byte_order in ORDERS else "is not big or little",
        "scale": None if scale != 0 else "must not be zero",
    }
    for key, problem in problems.items():
        if problem is not None:
            raise ConfigError(f"{path}: {where}.{key}: {get(key, object)!r} {problem}")
    return Register(quantity, address, type_, function, word_order, byte_order, scale, unit)


def _no_unknown(path: Path, prefix: str, doc: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(doc.keys() - known)
    if unknown:
        raise ConfigError(f"{path}: {prefix}{unknown[0]}: unknown key")
