"""HTML pages: the printable certificate and the public verification page.

Self-contained (inline CSS, the QR code as inline SVG, no script, no external asset), so they
print and render on a machine with no internet. Every value shown comes from the signed
payload: the pages show nothing the certificate does not.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from trust.qr import qr_svg
from trust.tokens import Check, Verdict

_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC",sans-serif;margin:2em auto;
max-width:46em;color:#111;line-height:1.45}
h1{font-size:1.5em;margin:0 0 .3em}
table{border-collapse:collapse;width:100%;margin:1em 0}
th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ccc;vertical-align:top}
th{width:34%;font-weight:600}
.verdict{padding:.8em 1em;border-radius:6px;font-size:1.2em;margin:1em 0}
.valid{background:#d9f2dd;border:2px solid #1d7a2e}
.expired{background:#fff2cc;border:2px solid #a67c00}
.revoked,.forged{background:#fbd9d9;border:2px solid #b00020}
.token{font-family:monospace;font-size:.7em;word-break:break-all;color:#444}
.qr{float:right;margin:0 0 1em 1em}
@media print{.noprint{display:none}body{margin:0}}
"""
_VERDICT_TEXT = {
    Verdict.VALID: "VALID",
    Verdict.EXPIRED: "EXPIRED",
    Verdict.REVOKED: "REVOKED",
    Verdict.FORGED: "FORGED",
}
_VERIFICATION_TEXT = {
    "verified": "verified by a third party",
    "verified_with_adjustments": "verified by a third party, with adjustments",
    "not_verified": "not verified: the verifier could not confirm the account",
    "unverified": "not (yet) verified by a third party",
}


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>"
    )


def _rows(cert: dict[str, Any]) -> str:
    period = cert.get("period", {})
    enterprise = cert.get("enterprise", {})
    grade = cert.get("grade")
    code_text = f"{cert.get('level') or ''}{grade}级" if grade is not None else "not graded"
    rows = [
        ("Enterprise", f"{enterprise.get('name', '')} ({enterprise.get('code', '')})"),
        ("Period", f"{period.get('label', '')} ({period.get('kind', '')}, closed account)"),
        ("Carbon-efficiency grade", code_text),
        ("Colour", cert.get("colour") or "none"),
        ("L (tCO2 per 万元)", cert.get("l") or "n/a"),
        ("K (L / industry L)", cert.get("k") or "n/a"),
        ("Emissions, tCO2", cert.get("tco2", "")),
        ("Meter coverage", cert.get("coverage", "")),
        ("Third-party verification", _VERIFICATION_TEXT.get(str(cert.get("verification")), "")),
        ("Account version", str(cert.get("account_version", ""))),
        ("Figures SHA-256", cert.get("figures_sha256", "")),
        ("Issued", cert.get("iat", "")),
        ("Expires", cert.get("exp", "")),
        ("Certificate id", cert.get("id", "")),
        ("Signed by", f"deployment {cert.get('dep', '')}, key {cert.get('kid', '')}"),
    ]
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def certificate_page(token: str, payload: dict[str, Any], verify_url: str) -> str:
    """The printable certificate: the figures, the QR code of the token, where to check it."""
    link = f"{verify_url}?token={quote(token)}"
    body = (
        f'<div class="qr">{qr_svg(token)}</div>'
        "<h1>Carbon-efficiency certificate 碳效码证书</h1>"
        f"<p>{escape(payload['enterprise']['name'])}, {escape(payload['period']['label'])}</p>"
        f"{_rows(payload)}"
        "<p>Check it: scan the code, or open the verification page, or run"
        " <code>carbonledger certificate verify TOKEN --keys keys.json</code> offline with the"
        " published keys.</p>"
        f'<p class="noprint"><a href="{escape(link)}">Verification page</a></p>'
        f'<p class="token">{escape(token)}</p>'
    )
    return _page(f"Certificate {payload['id']}", body)


def verification_page(check: Check | None) -> str:
    """What a person checking a certificate sees: the verdict, why, and what it certifies."""
    if check is None:
        form = (
            "<h1>Verify a carbon-efficiency certificate</h1>"
            '<form method="get" action="/verify"><p><label>Token<br>'
            '<textarea name="token" rows="6" cols="70"></textarea></label></p>'
            '<p><button type="submit">Verify</button></p></form>'
        )
        return _page("Verify a certificate", form)
    verdict = check.verdict
    body = (
        "<h1>Certificate check</h1>"
        f'<div class="verdict {verdict.value}" id="verdict">'
        f"<strong>{_VERDICT_TEXT[verdict]}</strong>: {escape(check.reason)}</div>"
    )
    if check.certificate is not None and verdict is not Verdict.FORGED:
        note = "" if verdict is Verdict.VALID else "<p>What the certificate said:</p>"
        body += note + _rows(check.certificate)
    return _page(f"Certificate check: {verdict.value}", body)
