"""Transport security shared by every role: PEM files checked once, gRPC credentials, loopback.

The files are read at start-up and checked with the standard `ssl` module (OpenSSL
parses them), so a wrong path, a key that is not PEM or a key that does not match its
certificate stops the role with a ConfigError naming the file, instead of a handshake
that fails later for reasons gRPC does not say.

gRPC Python asks for a client certificate on a port only by demanding one from every
caller of that port (`ssl_server_credentials(require_client_auth=True)`); without it the
server never requests one and `peer_identities()` is always None. So a coordinator that
verifies contributors serves them on a port of their own (`contributor_listen`).
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

from runsurge.errors import ConfigError

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def split_host(address: str) -> str:
    """The host part of HOST:PORT ("[::1]:7070" -> "::1"; ":7070" -> "")."""
    host = address.rsplit(":", 1)[0]
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def is_loopback(address: str) -> bool:
    """Whether HOST:PORT names only this machine (127.0.0.0/8, ::1, localhost).

    An empty host, a wildcard (0.0.0.0, ::) and any other name count as reachable from
    elsewhere: a name may resolve to anything.
    """
    host = split_host(address).lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None


def read_certificates(path: Path, what: str) -> bytes:
    """The PEM certificate(s) in `path`; ConfigError naming it if there are none."""
    data = _read(path, what)
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=data.decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError):
        raise ConfigError(
            f"the {what} {path} holds no PEM certificate ('-----BEGIN CERTIFICATE-----')"
        ) from None
    return data


def _refuse_encrypted() -> bytes:
    raise ConfigError("encrypted private keys are not supported")


def read_key_pair(cert: Path, key: Path, role: str) -> tuple[bytes, bytes]:
    """(PEM private key, PEM certificate chain), checked to belong together."""
    chain = read_certificates(cert, f"{role} certificate")
    key_data = _read(key, f"{role} private key")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(
            cert, key, password=_refuse_encrypted
        )
    except ConfigError as exc:
        raise ConfigError(f"the {role} private key {key}: {exc}") from None
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise ConfigError(
                f"the {role} private key {key} does not belong to the certificate {cert}"
            ) from None
        raise ConfigError(
            f"the {role} private key {key} is not a PEM private key ('-----BEGIN PRIVATE KEY-----')"
        ) from None
    return key_data, chain


@dataclass(frozen=True)
class ClientTls:
    """What a client (consumer or agent) presents and trusts; all None: plaintext."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    @property
    def enabled(self) -> bool:
        """TLS is on when a trust root is given."""
        return self.ca is not None

    def credentials(self, role: str) -> grpc.ChannelCredentials | None:
        """gRPC channel credentials, or None for a plaintext channel.

        ConfigError for a certificate without its key (or the reverse), a client
        certificate without a trust root, or a file that is not what it should be.
        """
        if (self.cert is None) != (self.key is None):
            raise ConfigError(f"the {role}'s tls_cert and tls_key go together: give both or none")
        if self.ca is None:
            if self.cert is not None:
                raise ConfigError(
                    f"the {role} has a client certificate but no tls_ca: "
                    "give the CA that signed the coordinator's certificate"
                )
            return None
        root = read_certificates(self.ca, "CA certificate (tls_ca)")
        if self.cert is None or self.key is None:
            return grpc.ssl_channel_credentials(root_certificates=root)
        key, chain = read_key_pair(self.cert, self.key, role)
        return grpc.ssl_channel_credentials(
            root_certificates=root, private_key=key, certificate_chain=chain
        )


def channel(
    address: str, tls: ClientTls, role: str, options: list[tuple[str, int]]
) -> grpc.Channel:
    """A blocking channel to `address`, secure when `tls` has a trust root."""
    credentials = tls.credentials(role)
    if credentials is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, credentials, options=options)


def aio_channel(
    address: str, credentials: grpc.ChannelCredentials | None, options: list[tuple[str, int]]
) -> grpc.aio.Channel:
    """An asyncio channel to `address`; plaintext when `credentials` is None."""
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=options)
    return grpc.aio.secure_channel(address, credentials, options=options)


def handshake_hint(details: str, tls: bool) -> str:
    """What a failed connection probably means for TLS, or "" when nothing points to it.

    A plaintext client hitting a TLS port, and a TLS client without the certificate a
    port demands, both only see the server close the socket.
    """
    text = details.lower()
    if "hostname verification" in text:
        return (
            "the coordinator's certificate does not name the address dialled: dial one of "
            "its names, or make it a certificate for this one (gen-certs --host)"
        )
    if "certificate_verify_failed" in text or "handshake failed" in text:
        return (
            "the TLS handshake failed: the coordinator's certificate is not signed by the "
            "tls_ca given"
        )
    if "socket closed" in text and "failed to connect" in text:
        if not tls:
            return "the coordinator probably uses TLS: give its CA certificate (tls_ca)"
        return (
            "the coordinator closed the connection: it may demand a client "
            "certificate (tls_cert, tls_key), or not use TLS on this port"
        )
    return ""
