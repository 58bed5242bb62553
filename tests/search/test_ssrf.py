"""What a git URL may make the server connect to: public addresses only, unless allow-listed; the checked
address pinned for the clone; no redirects; git's own messages kept from the client; credentials never on
disk; clones private and bounded."""

from __future__ import annotations

import asyncio
import base64
import logging
import stat
import subprocess
from pathlib import Path

import pytest

from app.errors import IndexingFailed
from app.integrations.addresses import AllowList
from app.runtime.processes import free_port
from app.search.git_clone import clone_or_pull
from app.search.git_remote import REFUSED, check_remote, parse_git_url
from tests.fakes.git_server import GitHTTPServer, RedirectingHTTPServer
from tests.search.conftest import bare_repository

NOTHING_ALLOWED = AllowList.parse([])
LOOPBACK_ALLOWED = AllowList.parse(["127.0.0.1"])
CLONE_LIMITS = {"max_bytes": 50 * 2**20, "timeout_s": 60.0}


def resolver_of(table: dict[str, list[str]]):
    """A DNS stand-in: the names of `table` and nothing else."""

    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("unknown host")
        return table[host]

    return resolve


async def judge(url: str, allow: AllowList = NOTHING_ALLOWED, resolver=None):
    kwargs = {"resolver": resolver} if resolver is not None else {}
    return await check_remote(parse_git_url(url), allow, **kwargs)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.2",
        "0.0.0.0",  # noqa: S104 - a refused address, not a bind
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f000001",
        "0x7f.1",
        "017700000001",  # octal
        "0177.0.0.1",
        "127.1",
        "[::1]",
        "[::]",
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[::ffff:7f00:1]",
        "[::127.0.0.1]",  # IPv4-compatible
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
        "[64:ff9b:1::a00:1]",  # local-use NAT64
        "[2002:a9fe:a9fe::1]",  # 6to4 of 169.254.169.254
        "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",  # Teredo
        "169.254.169.254",  # cloud metadata
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",  # carrier-grade NAT
        "198.18.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "[fe80::1]",
        "[fc00::1]",
        "[fec0::1]",
        "[ff02::1]",
        "localhost",
        "LOCALHOST.",
        "%31%32%37.0.0.1",
        "127.0.0.1.",
    ],
)
async def test_non_public_addresses_are_refused_in_every_spelling(host):
    with pytest.raises(ValueError, match="git_url") as refused:
        await judge(f"https://{host}/acme/shop.git")
    assert host.lower().strip("[]") not in str(refused.value).lower()


@pytest.mark.parametrize(
    "url",
    [
        "ssh://git@github.com/acme/shop.git",
        "git@github.com:acme/shop.git",
        "file:///etc",
        "ext::sh -c touch% /tmp/pwned",
        "ftp://example.com/shop.git",
        "https://example.com/shop.git?access_token=ghp_secretsecret",
        "https://example.com/shop.git#main",
        "https://example.com",
        "https://exa mple.com/shop.git",
        "https://example.com\\@127.0.0.1/shop.git",
        "https://example.com:0/shop.git",
        "https://example.com:99999/shop.git",
        "https://user@name@@/shop.git",
    ],
)
def test_only_https_and_http_urls_with_a_plain_path_are_accepted(url):
    with pytest.raises(ValueError, match="git_url") as refused:
        parse_git_url(url)
    assert "ghp_secret" not in str(refused.value)


async def test_public_addresses_pass_and_plain_http_needs_the_allow_list():
    for url in (
        "https://8.8.8.8/acme/shop.git",
        "https://[2606:4700::1111]/acme/shop.git",
        "https://[64:ff9b::808:808]/acme/shop.git",  # NAT64 of a public address reaches that address
    ):
        remote = await judge(url)
        assert not remote.resolved.allow_listed and remote.curl_resolve() is None, url
    with pytest.raises(ValueError, match=r"search\.git_allowed_hosts"):
        await judge("http://8.8.8.8/acme/shop.git")
    allowed = await judge("http://127.0.0.1:3000/acme/shop.git", LOOPBACK_ALLOWED)
    assert allowed.resolved.allow_listed
    with pytest.raises(ValueError, match="public host"):  # the allow-list is exact: 127.0.0.2 is not 127.0.0.1
        await judge("https://127.0.0.2/acme/shop.git", LOOPBACK_ALLOWED)


async def test_every_address_a_name_resolves_to_must_pass():
    dns = resolver_of(
        {
            "mixed.example.com": ["93.184.216.34", "10.0.0.7"],
            "public.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
            "git.corp.example": ["10.1.2.3"],
        }
    )
    with pytest.raises(ValueError, match="public host") as refused:
        await judge("https://mixed.example.com/a/b.git", resolver=dns)
    with pytest.raises(ValueError, match="public host") as unknown:
        await judge("https://nowhere.example.com/a/b.git", resolver=dns)
    assert str(refused.value) == str(unknown.value) == REFUSED, "one answer: no oracle for internal names"
    remote = await judge("https://public.example.com/a/b.git", resolver=dns)
    assert remote.curl_resolve() == "public.example.com:443:93.184.216.34"
    for entry in ("git.corp.example", "10.0.0.0/8"):
        remote = await judge("http://git.corp.example:8080/a/b.git", AllowList.parse([entry]), resolver=dns)
        assert remote.resolved.allow_listed and remote.curl_resolve() == "git.corp.example:8080:10.1.2.3"
    with pytest.raises(ValueError, match="neither a host name nor an address range"):
        AllowList.parse(["not a host!"])


@pytest.fixture
def served_repository(tmp_path):
    _, _, served = bare_repository(tmp_path)
    return served


def tree_has(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]


async def test_the_clone_connects_to_the_checked_address_whatever_dns_says_later(served_repository, tmp_path):
    # git itself cannot resolve this name: the clone succeeds only through the pinned address.
    dns = resolver_of({"git.example.test": ["127.0.0.1"]})
    with GitHTTPServer(served_repository) as server:
        remote = await judge(
            f"http://git.example.test:{server.port}/shop.git", AllowList.parse(["git.example.test"]), resolver=dns
        )
        clone_or_pull(remote, tmp_path / "clones" / "shop", **CLONE_LIMITS)
    assert (tmp_path / "clones" / "shop" / "src" / "billing" / "invoice.py").is_file()
    assert server.requests and all(r.path.startswith("/shop.git/") for r in server.requests)


async def test_a_redirect_is_not_followed(served_repository, tmp_path):
    with (
        GitHTTPServer(served_repository, host="127.0.0.2") as hidden,
        RedirectingHTTPServer(hidden.base_url) as trap,
    ):
        remote = await judge(f"{trap.base_url}/shop.git", LOOPBACK_ALLOWED)
        with pytest.raises(IndexingFailed) as failed:
            clone_or_pull(remote, tmp_path / "clones" / "shop", **CLONE_LIMITS)
    assert trap.requests, "the allowed server was asked"
    assert hidden.requests == [], "the address it redirected to was never contacted"
    assert "127.0.0.2" not in failed.value.detail and "302" not in failed.value.detail


async def test_git_failures_read_the_same_whatever_answered(served_repository, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="adjutant.search")
    with GitHTTPServer(served_repository) as server, RedirectingHTTPServer("http://example.com") as other:
        targets = {
            "closed-port": f"http://127.0.0.1:{free_port()}/shop.git",
            "no-such-repository": f"{server.base_url}/missing.git",
            "not-a-git-server": f"{other.base_url}/shop.git",
        }
        details = {}
        for what, url in targets.items():
            remote = await judge(url, LOOPBACK_ALLOWED)
            with pytest.raises(IndexingFailed) as failed:
                clone_or_pull(remote, tmp_path / "clones" / what, **CLONE_LIMITS)
            details[what] = failed.value.detail.rsplit("(server log reference", 1)[0]
    assert len(set(details.values())) == 1, details
    only = next(iter(details.values()))
    for leak in ("127.0.0.1", "Connection refused", "connect to", "not found", "302", "fatal"):
        assert leak not in only
    assert (
        "Connection refused" in caplog.text or "Couldn't connect" in caplog.text or "Failed to connect" in caplog.text
    )
    assert "not found" in caplog.text, "the full story is in the server log"


def modes_of(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in [root, *root.rglob("*")]}


async def test_credentials_travel_as_a_header_and_are_never_written_to_disk(served_repository, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    checkout = tmp_path / "clones" / "7" / "shop"
    with GitHTTPServer(served_repository) as server:
        url = server.base_url.replace("http://", "http://dp:s3cret-pass@") + "/shop.git"
        remote = await judge(url, LOOPBACK_ALLOWED)
        clone_or_pull(remote, checkout, **CLONE_LIMITS)
        clone_or_pull(remote, checkout, **CLONE_LIMITS)  # a refresh of the existing checkout
    expected = "Basic " + base64.b64encode(b"dp:s3cret-pass").decode()
    assert server.requests and all(r.authorization == expected for r in server.requests)
    assert tree_has(checkout, b"s3cret") == [] and tree_has(checkout, b"dp:") == []
    assert tree_has(checkout / ".git", b"127.0.0.1"), "the remote is still recorded, without credentials"
    loose = {path: mode for path, mode in modes_of(checkout).items() if mode & 0o077}
    assert loose == {}, f"readable by others: {loose}"
    assert stat.S_IMODE(checkout.parent.stat().st_mode) == 0o700
    assert "s3cret" not in caplog.text


async def test_an_old_checkout_with_credentials_in_its_config_is_scrubbed_on_refresh(served_repository, tmp_path):
    checkout = tmp_path / "old"
    with GitHTTPServer(served_repository) as server:
        url = server.base_url.replace("http://", "http://dp:s3cret-pass@") + "/shop.git"
        clone = ["git", "clone", "-q", "--depth", "1", url, str(checkout)]
        await asyncio.to_thread(subprocess.run, clone, check=True, capture_output=True)
        (checkout / ".git" / "config").chmod(0o644)
        assert tree_has(checkout / ".git", b"s3cret")
        clone_or_pull(await judge(url, LOOPBACK_ALLOWED), checkout, **CLONE_LIMITS)
    config = checkout / ".git" / "config"
    assert b"s3cret" not in config.read_bytes() and stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(checkout.stat().st_mode) == 0o700


async def test_a_clone_larger_than_the_cap_is_stopped_and_removed(served_repository, tmp_path):
    checkout = tmp_path / "clones" / "shop"
    with GitHTTPServer(served_repository) as server:
        remote = await judge(f"{server.base_url}/shop.git", LOOPBACK_ALLOWED)
        with pytest.raises(IndexingFailed, match=r"search\.git_max_clone_bytes"):
            clone_or_pull(remote, checkout, max_bytes=2048, timeout_s=60.0)
    assert not checkout.exists()
