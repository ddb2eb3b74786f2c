"""Rendering a briefing to PDF with WeasyPrint, with nothing fetched from anywhere but the
app's own static folder.

The HTML is the app's own template, but it carries text typed by coordinators and
respondents (titles, sector names); if any of it ever reached a URL, the renderer must
not be the way to reach the network or the server's files."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint import HTML
from weasyprint.urls import URLFetcher

# PDF/UA-1: tagged, titled and with its language, for screen readers.
PDF_VARIANT = "pdf/ua-1"


class StaticOnlyFetcher(URLFetcher):
    """Fetches `file:` URLs inside one folder and `data:` URLs (the inlined charts, which
    are in the document already); refuses everything else, so rendering never opens a
    connection or reads a file outside the static folder."""

    def __init__(self, folder: str | Path):
        super().__init__(allowed_protocols=("file", "data"))
        self.folder = Path(folder).resolve()

    def fetch(self, url, headers=None):
        scheme = urlsplit(url).scheme.lower()
        if scheme == "file":
            path = Path(unquote(urlsplit(url).path)).resolve()
            if not path.is_relative_to(self.folder):
                raise ValueError(f"Refused a file outside the static folder: {url}")
        elif scheme != "data":
            raise ValueError(f"Refused a URL that is not the app's own: {url}")
        return super().fetch(url, headers)


def render(html: str, static_folder: str | Path) -> bytes:
    """The PDF of `html`, whose relative URLs are read from `static_folder`."""
    folder = Path(static_folder).resolve()
    document = HTML(string=html, base_url=folder.as_uri() + "/", url_fetcher=StaticOnlyFetcher(folder))
    return document.write_pdf(pdf_variant=PDF_VARIANT)
