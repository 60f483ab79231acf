"""The one filename rule: names that come in (uploads, URL pulls) and go out (``Content-Disposition``).

``safe_filename`` reduces any name to its base name in ``[A-Za-z0-9._-]`` (safe in an object key, an HTTP
header and a shell), so path parts, quotes, control and non-Latin-1 characters never pass.
``content_disposition`` gives that safe name as ``filename=`` and the original base name, UTF-8 and
percent-encoded, as RFC 5987/6266 ``filename*=``, so a browser still saves ``Ωmega.csv`` as such.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import quote

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME = 120


def base_name(filename: str | None) -> str:
    """The last path part of ``filename`` (``/`` or ``\\`` separated), NFC-normalised, without control characters."""
    name = PurePosixPath(_CONTROL.sub("", filename or "").replace("\\", "/")).name
    return unicodedata.normalize("NFC", name).strip()[:MAX_NAME]


def safe_filename(filename: str | None, default: str = "data.csv") -> str:
    """The base name reduced to ``[A-Za-z0-9._-]`` (runs of anything else become ``_``); ``default`` when empty."""
    name = _UNSAFE.sub("_", base_name(filename)).strip("._")
    return name[:MAX_NAME] or default


def content_disposition(filename: str, kind: Literal["attachment", "inline"] = "attachment") -> str:
    """A ``Content-Disposition`` value (ASCII only) naming ``filename``: ``filename=`` safe, ``filename*=`` exact."""
    original = base_name(filename) or "download"
    fallback = safe_filename(original, default="download")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(original, safe='')}"
