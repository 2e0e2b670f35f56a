"""HTML building with escaping by construction.

Every value from the chain is hostile (organisation names, notes and lot numbers come from transactions). Page
code never concatenates raw strings: it builds `Safe` fragments with `h()` and `tag()`, which escape every
argument that is not already `Safe`. Only literal templates written in this package are trusted.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from urllib.parse import quote


class Safe(str):
    """A string of HTML that is already escaped (or trusted markup from this package)."""

    __slots__ = ()

    def __add__(self, other: str) -> Safe:
        return Safe(str.__add__(self, esc(other)))


Child = Safe | str | int | float | None


def esc(value: object) -> Safe:
    """Escape anything for HTML text or a double-quoted attribute; `Safe` passes through."""
    if isinstance(value, Safe):
        return value
    if value is None:
        return Safe("")
    return Safe(html.escape(str(value), quote=True))


def h(template: str, *args: object, **kwargs: object) -> Safe:
    """Fill a trusted `str.format` template; every argument is escaped unless it is `Safe`."""
    return Safe(template.format(*(esc(a) for a in args), **{k: esc(v) for k, v in kwargs.items()}))


def join(parts: Iterable[object], sep: str = "") -> Safe:
    """Concatenate escaped parts."""
    return Safe(esc(sep).join(esc(p) for p in parts))


def tag(name: str, attrs: Mapping[str, object] | None = None, *children: object) -> Safe:
    """`<name attr="v">children</name>`; attributes with value None or False are left out, True is bare."""
    out = ["<", name]
    for key, value in (attrs or {}).items():
        if value is None or value is False:
            continue
        if value is True:
            out.append(f" {key}")
        else:
            out.append(f' {key}="{esc(value)}"')
    out.append(">")
    if name in _VOID:
        return Safe("".join(out))
    out.extend(esc(c) for c in children)
    out.append(f"</{name}>")
    return Safe("".join(out))


_VOID = frozenset({"br", "hr", "img", "input", "meta", "link"})


def seg(value: object) -> str:
    """Quote one URL path segment (ids may hold '/', ':' or '(' from GS1 lot numbers)."""
    return quote(str(value), safe="")


def qs(value: object) -> str:
    """Quote a query-string value."""
    return quote(str(value), safe="")


def link(href: str, *children: object, cls: str | None = None) -> Safe:
    """An anchor; `href` must be built from this package's paths with `seg()`-quoted parts."""
    return tag("a", {"href": href, "class": cls}, *children)
