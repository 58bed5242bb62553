"""Credentials in URLs are removed from everything shown or logged: the whole user part, whatever its
length, and credential-like query parameters."""

from __future__ import annotations

import pytest

from app.runtime.logging import Redactor
from app.runtime.redaction import redact_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://ab:pw@git.example.com/a.git", "https://***@git.example.com/a.git"),
        ("https://x@git.example.com/a.git", "https://***@git.example.com/a.git"),
        ("https://ghp_0123456789abcdefghij@github.com/a.git", "https://***@github.com/a.git"),
        ("https://u:p@ss@host/a.git", "https://***@host/a.git"),  # an unencoded @ in the password
        ("postgres://postgres:pw123@127.0.0.1:5432/db", "postgres://***@127.0.0.1:5432/db"),
        ("https://h/a.git?access_token=s3cr3t&ref=main", "https://h/a.git?access_token=***&ref=main"),
        ("https://h/a?private_token=s3cr3t", "https://h/a?private_token=***"),
        (
            "https://h/o?X-Amz-Signature=abc123&X-Amz-Credential=k1",
            "https://h/o?X-Amz-Signature=***&X-Amz-Credential=***",
        ),
        (
            "fatal: unable to access 'https://dp:s3cret@10.0.0.1/a.git/': refused",
            "fatal: unable to access 'https://***@10.0.0.1/a.git/': refused",
        ),
        ("https://h/user@example.com/a.git", "https://h/user@example.com/a.git"),  # an @ in the path is no user part
        ("git@github.com:acme/shop.git", "git@github.com:acme/shop.git"),
    ],
)
def test_redact_url(text, expected):
    assert redact_url(text) == expected


def test_the_log_redactor_removes_url_credentials_too():
    line = Redactor()('{"msg": "cloning https://ab:pw@h/a.git and https://h/b.git?access_token=tok9"}')
    assert "ab:pw" not in line and "tok9" not in line and "https://***@h/a.git" in line
