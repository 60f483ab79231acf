"""The one filename rule: what comes in is reduced to a safe base name, what goes out is a header that any
server can send (ASCII) and that keeps the original name for browsers (RFC 5987 ``filename*``)."""

from __future__ import annotations

from urllib.parse import unquote

from scoreline.core.filenames import content_disposition, safe_filename


def test_safe_filename_keeps_only_the_base_name_in_safe_characters() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\data\\E0 2023.csv") == "E0_2023.csv"
    assert safe_filename('a"b;c=d.csv') == "a_b_c_d.csv"
    assert safe_filename("Ωmega\r\n.csv") == "mega.csv"
    assert safe_filename("", "x.csv") == "x.csv"
    assert safe_filename("..") == "data.csv"


def test_content_disposition_is_ascii_and_quotes_cannot_inject_parameters() -> None:
    header = content_disposition('evil"; filename="x.exe-predictions.csv')
    header.encode("latin-1")  # a header Starlette can send
    assert header.count('"') == 2  # one quoted filename= only: no injected parameter
    assert header.startswith('attachment; filename="')


def test_content_disposition_keeps_a_non_latin1_name_in_filename_star() -> None:
    header = content_disposition("Матч Ωmega-predictions.csv")
    header.encode("ascii")
    fallback, star = header.split("; filename*=")
    assert fallback == 'attachment; filename="mega-predictions.csv"'
    assert star.startswith("UTF-8''")
    assert unquote(star.removeprefix("UTF-8''")) == "Матч Ωmega-predictions.csv"
