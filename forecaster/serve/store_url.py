"""The ``--state-store`` URL: checked before anything loads, and never logged with its password."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from pipelines.errors import ForecasterError

SCHEMES = ("redis", "rediss")


def check_store_url(url: str) -> str:
    """``url`` if it is a usable ``redis://[:PASSWORD@]HOST[:PORT][/DB]`` (or ``rediss://``, TLS).

    Example:
        >>> check_store_url("redis://127.0.0.1:6379/0")
        'redis://127.0.0.1:6379/0'
        >>> check_store_url("redis://h:99999/0")
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: --state-store: bad port in 'redis://h:99999/0'; expected redis://HOST[:PORT][/DB]
    """
    expected = "expected redis://HOST[:PORT][/DB]"
    if not isinstance(url, str) or "://" not in url:
        raise ForecasterError(f"--state-store: {url!r} is not a URL; {expected}")
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ForecasterError(f"--state-store: unsupported scheme {parts.scheme!r} in {redacted(url)!r}; {expected} (or rediss:// for TLS)")
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise ForecasterError(f"--state-store: bad port in {redacted(url)!r}; {expected}") from None
    if not parts.hostname:
        raise ForecasterError(f"--state-store: no host in {redacted(url)!r}; {expected}")
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise ForecasterError(f"--state-store: the database must be a number, got {db!r} in {redacted(url)!r}; {expected}")
    if parts.query or parts.fragment:
        raise ForecasterError(f"--state-store: no query or fragment allowed in {redacted(url)!r}; {expected}")
    return url


def redacted(url: str) -> str:
    """The URL without its password (for logs and errors).

    Example:
        >>> redacted("redis://:s3cret@cache:6379/2")
        'redis://***@cache:6379/2'
    """
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


def has_password(url: str) -> bool:
    """True when the URL carries a password (it must then not come from the command line)."""
    parts = urlsplit(url)
    return bool(parts.password and unquote(parts.password))
