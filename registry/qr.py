"""QR codes as inline SVG (segno, pure Python): the family access link on the certificate, the school credential."""

from __future__ import annotations

import segno


def qr_svg(text: str) -> str:
    """An inline <svg> of `text` (error correction M: survives a worn printout), no script, no external file."""
    return str(segno.make(text, error="m", micro=False).svg_inline(scale=4, border=2))


def family_link(registry_url: str, code: str) -> str:
    """The guardian's link a certificate's QR code carries (the code is in the path: no query string in logs)."""
    return f"{registry_url.rstrip('/')}/f/{code}"
