"""A throwaway PKI for TLS tests, made with the `openssl` command (EC P-256 keys: ~0.2 s for all).

`make_pki(directory)` writes two CAs and the certificates the TLS tests need: a broker
certificate for 127.0.0.1 and localhost, one for another name only, a client certificate
of the same CA and one of a stranger CA.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


@dataclass(frozen=True)
class Pair:
    """A certificate and its private key (PEM files)."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    """The files of `make_pki`: ``ca`` signed ``server``, ``wrong_name`` and ``client``;
    ``other_ca`` signed ``stranger``."""

    ca: Path
    other_ca: Path
    server: Pair  # subjectAltName IP:127.0.0.1, DNS:localhost
    wrong_name: Pair  # subjectAltName DNS:broker.invalid only
    client: Pair
    stranger: Pair  # a client certificate the broker's CA did not sign


def _run(*args: str) -> None:
    subprocess.run([OPENSSL, *args], check=True, capture_output=True)


def _key(path: Path) -> Path:
    _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))
    return path


def authority(directory: Path, name: str) -> Pair:
    """A self-signed CA."""
    key = _key(directory / f"{name}.key")
    cert = directory / f"{name}.crt"
    _run("req", "-x509", "-new", "-key", str(key), "-subj", f"/CN={name}", "-days", "2", "-out", str(cert),
         "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return Pair(cert, key)


def issue(directory: Path, name: str, ca: Pair, *, san: str, usage: str) -> Pair:
    """A leaf certificate signed by ``ca`` (``usage``: serverAuth or clientAuth)."""
    key = _key(directory / f"{name}.key")
    csr, ext, cert = (directory / f"{name}.{suffix}" for suffix in ("csr", "ext", "crt"))
    _run("req", "-new", "-key", str(key), "-subj", f"/CN={name}", "-out", str(csr))
    ext.write_text(f"subjectAltName={san}\nextendedKeyUsage={usage}\nbasicConstraints=CA:false\n")
    _run("x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key), "-CAcreateserial",
         "-days", "2", "-out", str(cert), "-extfile", str(ext))
    return Pair(cert, key)


def make_pki(directory: Path) -> Pki:
    """Write the test PKI into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, other = authority(directory, "test-ca"), authority(directory, "other-ca")
    return Pki(
        ca=ca.cert, other_ca=other.cert,
        server=issue(directory, "server", ca, san="IP:127.0.0.1,DNS:localhost", usage="serverAuth"),
        wrong_name=issue(directory, "wrong-name", ca, san="DNS:broker.invalid", usage="serverAuth"),
        client=issue(directory, "client", ca, san="DNS:forecaster", usage="clientAuth"),
        stranger=issue(directory, "stranger", other, san="DNS:stranger", usage="clientAuth"),
    )
