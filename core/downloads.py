"""Files to save whose names come from what people typed (a survey's name, a wave's)."""

from __future__ import annotations

import io

from flask import Response, send_file


def download(body: bytes, mimetype: str, filename: str) -> Response:
    """`body` as a file to save, named `filename`.

    Werkzeug's send_file writes the Content-Disposition header: an ASCII name as it is,
    quoted where it must be (a `"` in the name is escaped, not the end of it); any other
    name with an ASCII fallback and RFC 6266's `filename*` carrying the exact name. Line
    breaks, which no header can carry and a name stored before they were refused may
    hold, become spaces first."""
    response = send_file(io.BytesIO(body), mimetype=mimetype, as_attachment=True,
                         download_name=" ".join(filename.split()), conditional=False)
    # send_file lets caches keep the file if they ask again first; like every page of the
    # app, a download is not to be kept at all.
    response.headers["Cache-Control"] = "no-store"
    return response
