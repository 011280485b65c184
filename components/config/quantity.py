"""Kubernetes resource quantities (``500m``, ``16Gi``), parsed as Kubernetes parses them.

Also refused, though Kubernetes would accept them: zero and negative requests, CPU finer than a
millicore (the API server rounds it up silently), memory that is not a whole number of bytes
(``128m`` is 0.128 bytes, a classic slip for ``128Mi``), and values beyond 2^63-1 (capped or
overflowed by Kubernetes), however large the exponent (``1e999999``).
"""

from __future__ import annotations

from decimal import Decimal, DecimalException, InvalidOperation
from typing import Final

# apimachinery's grammar (pkg/api/resource/quantity.go, the comment above ``type Quantity``):
#   <quantity>        ::= <signedNumber><suffix>
#   <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
#   <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
#   <decimalSI>       ::= m | "" | k | M | G | T | P | E      (and n, u for small values)
#   <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>
_BINARY: Final = {s: Decimal(2) ** (10 * (i + 1)) for i, s in enumerate("KMGTPE")}
_DECIMAL: Final = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_DIGITS: Final = frozenset("0123456789")
# The largest quantity Kubernetes holds: parsing caps a binarySI quantity at 2^63-1 silently
# ("8Ei" parses as 2^63-1), and the int64 accessors (Value, MilliValue) overflow beyond it (the
# same comment at apimachinery 357557a; older releases: "no quantity may represent a number
# greater than 2^63-1 in magnitude ... Numbers larger ... will be capped").
_LARGEST: Final = Decimal(2**63 - 1)


class QuantityError(ValueError):
    pass


def _number(text: str) -> Decimal | None:
    body = text[1:] if text[:1] in "+-" else text
    whole, dot, frac = body.partition(".")
    if not (whole or frac) or not set(whole + frac) <= _DIGITS or (dot and not (whole or frac)):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def parse_quantity(text: str) -> Decimal:
    """The quantity's value in base units (cores, bytes); ``QuantityError`` when it is none or
    more than Kubernetes can hold."""
    try:
        value = _value(text)
        too_large = abs(value) > _LARGEST
    except DecimalException:  # an exponent beyond any decimal (Overflow)
        too_large = True
    if too_large:
        raise QuantityError(f"{text!r} is more than Kubernetes can hold (2^63-1, about 9.2e18)")
    return value


def _value(text: str) -> Decimal:
    if text[-2:-1] in set("KMGTPE") and text.endswith("i"):
        number, factor = _number(text[:-2]), _BINARY[text[-2]]
    elif text[-1:] in _DECIMAL and text[-1:] != "":
        number, factor = _number(text[:-1]), _DECIMAL[text[-1]]
    else:
        head, e, exponent = text.replace("E", "e").rpartition("e")
        exp = _number(exponent) if e and head else None
        if e and head and exp is not None and exp == exp.to_integral_value():
            number, factor = _number(head), Decimal(10) ** int(exp)
        else:
            number, factor = _number(text), Decimal(1)
    if number is None:
        raise QuantityError(f"{text!r} is not a Kubernetes quantity (e.g. 500m, 4, 16Gi)")
    return number * factor


def cpu_quantity(text: str) -> str:
    value = parse_quantity(text)
    if value <= 0:
        raise QuantityError(f"{text!r}: a CPU request must be more than 0")
    if value != (value * 1000).to_integral_value() / 1000:
        raise QuantityError(f"{text!r}: CPU is counted in whole millicores (e.g. 500m)")
    return text


def memory_quantity(text: str) -> str:
    value = parse_quantity(text)
    if value < 1024**2:
        raise QuantityError(f"{text!r}: a memory request below 1Mi is no memory (did you mean Mi?)")
    if value != value.to_integral_value():
        raise QuantityError(f"{text!r}: memory must be whole bytes (did you mean Mi, not m?)")
    return text
