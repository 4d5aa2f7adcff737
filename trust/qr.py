"""The token as a QR code (segno: pure Python, PNG and SVG without an imaging library).

Error correction M (15 % of the code may be lost) in byte mode; a token of about 900
characters makes a version 25-30 symbol, which phones and zbar read from a printed A4 page.
"""

from __future__ import annotations

import io

import segno


def _code(token: str) -> segno.QRCode:
    return segno.make_qr(token, error="m", mode="byte", boost_error=False)


def qr_svg(token: str, scale: int = 3) -> str:
    """An inline ``<svg>`` element (no XML declaration) for an HTML page."""
    return str(_code(token).svg_inline(scale=scale, border=4, dark="#000", light="#fff"))


def qr_png(token: str, scale: int = 6) -> bytes:
    out = io.BytesIO()
    _code(token).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def qr_file_svg(token: str, scale: int = 6) -> bytes:
    """A standalone SVG file."""
    out = io.BytesIO()
    _code(token).save(out, kind="svg", scale=scale, border=4, xmldecl=True)
    return out.getvalue()
