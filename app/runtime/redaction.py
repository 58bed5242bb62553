"""Credentials inside URLs, removed wherever a URL (or a text quoting one) is shown or logged."""

from __future__ import annotations

import re

# The whole user part: a user name alone is often the token itself (https://<token>@host, oauth2:<token>@).
URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s?#@\"'<>]*(?:@[^/\s?#@\"'<>]*)*@")
# Query parameters that carry credentials: access_token, private_token, api_key, X-Amz-Signature, sig, ...
URL_SECRET_PARAM = re.compile(
    r"(?i)([?&;][^=&#\s]*(?:token|key|secret|passw|pwd|auth|sig|credential|session|code)[^=&#\s]*=)[^&#\s\"'<>]*"
)


def redact_url(text: str) -> str:
    """`text` with the user part of every URL in it replaced by `***`, and credential-like query values too."""
    text = URL_USERINFO.sub(r"\1***@", text)
    return URL_SECRET_PARAM.sub(r"\1***", text)
