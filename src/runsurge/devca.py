"""A development certificate authority for `runsurge admin gen-certs`.

One CA signs a server certificate (the coordinator's, with the host names and IP
addresses clients dial as subject alternative names) and a contributor client
certificate (what agents present when the coordinator demands one). Keys are EC P-256,
written mode 0600. It is meant for development and small private clusters; a real
deployment brings certificates from its own CA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from runsurge.errors import ConfigError

DEFAULT_HOSTS = ("localhost", "127.0.0.1")
# File name -> whether it holds a private key (mode 0600).
FILES = {
    "ca.pem": False,
    "ca-key.pem": True,
    "server.pem": False,
    "server-key.pem": True,
    "contributor.pem": False,
    "contributor-key.pem": True,
}


@dataclass(frozen=True)
class _Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "RunSurge development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _alternative_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    """Each host as an IP address SAN when it is one, else as a DNS name."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            if not host or any(c.isspace() or c in "/:" for c in host):
                raise ConfigError(
                    f"--host {host!r} is neither a host name nor an IP address"
                ) from None
            names.append(x509.DNSName(host))
    return names


def _issue(
    subject: x509.Name,
    issuer: _Issued | None,
    days: int,
    *,
    ca: bool = False,
    usage: x509.ObjectIdentifier | None = None,
    sans: list[x509.GeneralName] | None = None,
) -> _Issued:
    """A certificate for a fresh key, signed by `issuer` (self-signed when None)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    signer = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate a little clock skew
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return _Issued(builder.sign(signer, hashes.SHA256()), key)


def _pem(issued: _Issued) -> tuple[bytes, bytes]:
    cert = issued.cert.public_bytes(serialization.Encoding.PEM)
    key = issued.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert, key


def generate(
    directory: Path, hosts: Sequence[str] = DEFAULT_HOSTS, days: int = 365, force: bool = False
) -> dict[str, Path]:
    """Write the CA, server and contributor certificates and keys; return name -> path.

    Refuses (ConfigError, naming them) when any of the files exists, unless `force`:
    nothing is written then, so an existing CA is never half replaced.
    """
    if days < 1:
        raise ConfigError(f"--days must be at least 1, not {days}")
    sans = _alternative_names(hosts or DEFAULT_HOSTS)
    paths = {name: directory / name for name in FILES}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not force:
        raise ConfigError(
            f"refusing to overwrite {', '.join(existing)} (pass --force to replace them)"
        )
    ca = _issue(_name("RunSurge development CA"), None, days, ca=True)
    server = _issue(
        _name(str(hosts[0]) if hosts else "localhost"),
        ca,
        days,
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        sans=sans,
    )
    contributor = _issue(
        _name("runsurge-contributor"), ca, days, usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    directory.mkdir(parents=True, exist_ok=True)
    for stem, issued in (("ca", ca), ("server", server), ("contributor", contributor)):
        cert, key = _pem(issued)
        _write(paths[f"{stem}.pem"], cert, 0o644)
        _write(paths[f"{stem}-key.pem"], key, 0o600)
    return paths


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write through a temporary file created with its final mode, then rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)  # the umask may have narrowed it; never widened a key's
    os.replace(tmp, path)
