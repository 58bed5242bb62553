"""Icons of the profile panel, as data: URIs.

Why not a URL served by us: the webview loads `<img src>` itself, and on a plain-http deployment reached by a
non-loopback name Chromium upgrades such image requests to https (mixed content from the webview's secure
origin), so they break; a data: URI needs no request, no route, no auth exemption and works offline. An SVG
inside `<img>` never runs scripts. A fixed mid grey reads on both light and dark themes (`currentColor`
does not reach into an `<img>`).
"""

from __future__ import annotations

import base64


def _svg(body: str) -> str:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24" fill="none" '
        f'stroke="#8c8c8c" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">{body}</svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


ACCOUNT = _svg('<circle cx="12" cy="8" r="4"/><path d="M4 21v-1a7 7 0 0 1 16 0v1"/>')
DOCS = _svg(
    '<path d="M4 4h6a3 3 0 0 1 3 3v13a2 2 0 0 0-2-2H4z"/><path d="M20 4h-6a3 3 0 0 0-1 .2V20a2 2 0 0 1 2-2h5z"/>'
)
