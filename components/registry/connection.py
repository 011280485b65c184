"""Connecting to the registry database, and keeping its password out of every message.

A DSN here is anything libpq accepts: a URL (``postgresql://user:pw@host:5432/db``) or a
key/value string (``host=... dbname=... password=...``). Passwords are never printed: messages
show ``mask_dsn(dsn)`` and errors pass through ``scrub``.
"""

from __future__ import annotations

import os
import re
import ssl
from urllib.parse import quote

import psycopg
from psycopg import conninfo

MASK = "***"
CONNECT_TIMEOUT_SECONDS = 10
APPLICATION_NAME = "vllm-platform-registry"

# password=value (quoted or not) in key/value DSNs, and user:password@ in URLs.
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@\s]*)(@)")


UNPARSED = "(a DSN that does not parse; not shown, it may hold a password)"
# libpq's parse errors quote the offending token; only these fragments are syntax, not DSN text.
_QUOTED = re.compile(r'"([^"]*)"')
_SYNTAX = frozenset({"=", ":", "/", "]"})


class RegistryConnectionError(Exception):
    """The registry database could not be reached; the message never holds the password."""


def build_dsn(
    *,
    host: str,
    port: int,
    database: str,
    user: str,
    password: str,
    sslmode: str,
    sslrootcert: str | None = None,
) -> str:
    """A key/value DSN with every value quoted as libpq requires."""
    extra = {} if sslrootcert is None else {"sslrootcert": sslrootcert}
    return conninfo.make_conninfo(
        host=host,
        port=str(port),
        dbname=database,
        user=user,
        password=password,
        sslmode=sslmode,
        **extra,
    )


def with_system_roots(dsn: str) -> str:
    """``dsn`` with ``sslrootcert=system`` pointing at the host's CA bundle.

    libpq's ``system`` loads the default store of the OpenSSL it is linked with; the
    psycopg-binary wheel bundles its own OpenSSL, whose default store is
    ``/usr/lib/psycopg-openssl/cert.pem`` (a path no host has), so verify-full would fail with
    "certificate verify failed" unless SSL_CERT_FILE/SSL_CERT_DIR are set. The host's bundle is
    what Python's own OpenSSL uses. Only verify-full is rewritten (libpq refuses ``system``
    with any other sslmode, and keeps doing so); set SSL_CERT_FILE to choose another store.
    """
    parsed = _parse(dsn)
    if (
        not parsed
        or parsed.get("sslrootcert") != "system"
        or parsed.get("sslmode") != "verify-full"
        or os.environ.get("SSL_CERT_FILE")
        or os.environ.get("SSL_CERT_DIR")
    ):
        return dsn
    cafile = ssl.get_default_verify_paths().cafile
    if cafile is None:
        return dsn
    return conninfo.make_conninfo(dsn, sslrootcert=cafile)


def _parse(dsn: str) -> dict[str, str] | None:
    try:
        return {k: str(v) for k, v in conninfo.conninfo_to_dict(dsn).items() if v is not None}
    except psycopg.ProgrammingError:
        return None


def dsn_parse_error(dsn: str) -> str | None:
    """Why libpq cannot parse ``dsn`` (None when it can), without any of the DSN's text: libpq
    quotes the offending token, which may be the password or a piece of it."""
    try:
        conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return _QUOTED.sub(lambda m: m[0] if m[1] in _SYNTAX else f'"{MASK}"', first)
    return None


def dsn_password(dsn: str) -> str | None:
    parsed = _parse(dsn)
    return parsed.get("password") if parsed else None


def dsn_database(dsn: str) -> str | None:
    parsed = _parse(dsn)
    if not parsed:
        return None
    return parsed.get("dbname") or parsed.get("user")


def mask_dsn(dsn: str) -> str:
    """The DSN with its password replaced by ``***``; a DSN that does not parse is not shown at
    all (where its password ends cannot be told: a quoted value with spaces, bad
    percent-encoding)."""
    parsed = _parse(dsn)
    if parsed is None:
        return UNPARSED
    if "password" in parsed:
        parsed["password"] = MASK
    user = parsed.pop("user", None)
    password = parsed.pop("password", None)
    host = parsed.pop("host", "")
    port = parsed.pop("port", None)
    dbname = parsed.pop("dbname", "")
    auth = ""
    if user is not None:
        auth = quote(user, safe="") + (f":{password}" if password else "") + "@"
    netloc = host + (f":{port}" if port else "")
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in sorted(parsed.items()))
    return f"postgresql://{auth}{netloc}/{quote(dbname, safe='')}" + (f"?{query}" if query else "")


def scrub(text: str, dsn: str) -> str:
    """``text`` with the DSN's password (and any password=/user:pw@ pattern) masked."""
    password = dsn_password(dsn)
    if password:
        text = text.replace(password, MASK)
    return _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", _KV_PASSWORD.sub(rf"\g<1>{MASK}", text))


def connect(dsn: str, *, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
    """Open a connection; a failure raises ``RegistryConnectionError`` naming the masked DSN."""
    unparsed = dsn_parse_error(dsn)
    if unparsed is not None:
        raise RegistryConnectionError(
            f"the registry DSN does not parse: {unparsed} (the DSN is not shown: it may hold a "
            "password)"
        )
    try:
        return psycopg.connect(
            with_system_roots(dsn),
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=APPLICATION_NAME,
        )
    except psycopg.Error as exc:
        reason = scrub(" ".join(str(exc).split()) or type(exc).__name__, dsn)
        raise RegistryConnectionError(f"cannot connect to {mask_dsn(dsn)}: {reason}") from None
