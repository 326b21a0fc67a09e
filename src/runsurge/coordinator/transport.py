"""How the coordinator listens: TLS, mutual TLS for contributors, or plaintext on loopback.

`listen` serves everything, over TLS when tls_cert/tls_key are set. With
tls_client_ca, `contributor_listen` also serves everything, but demands a client
certificate signed by that CA in the handshake (see runsurge/tls.py for why a port of
its own); the interceptor then refuses ContributorService calls that did not come
with one, which is every such call on `listen`. Plaintext is refused on an address
that is not loopback unless `allow_plaintext`, which is logged loudly.
"""

from __future__ import annotations

import logging

import grpc

from runsurge.config import CoordinatorSettings
from runsurge.errors import ConfigError
from runsurge.tls import is_loopback, read_certificates, read_key_pair

log = logging.getLogger(__name__)


def check_plaintext(settings: CoordinatorSettings) -> None:
    """Refuse plaintext off loopback unless allowed; warn when it is allowed."""
    if settings.tls_cert is not None or is_loopback(settings.listen):
        return
    if not settings.allow_plaintext:
        raise ConfigError(
            f"refusing to listen in plaintext on {settings.listen}, which is not a loopback "
            "address: tokens and data would cross the network unencrypted. Give --tls-cert "
            "and --tls-key (`runsurge admin gen-certs` makes development ones), listen on "
            "127.0.0.1, or pass --allow-plaintext on a network you trust"
        )
    log.warning(
        "PLAINTEXT ON A NETWORK ADDRESS (--allow-plaintext): %s serves without TLS; tokens, "
        "scripts, inputs and results cross the network unencrypted",
        settings.listen,
    )


def _credentials(
    settings: CoordinatorSettings,
) -> tuple[grpc.ServerCredentials | None, grpc.ServerCredentials | None]:
    """(credentials of `listen`, of `contributor_listen`); None: plaintext / no port."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None, None
    pair = [read_key_pair(settings.tls_cert, settings.tls_key, "coordinator")]
    main = grpc.ssl_server_credentials(pair)
    if settings.tls_client_ca is None:
        return main, None
    client_ca = read_certificates(settings.tls_client_ca, "client CA certificate (tls_client_ca)")
    mutual = grpc.ssl_server_credentials(
        pair, root_certificates=client_ca, require_client_auth=True
    )
    return main, mutual


def check_transport(settings: CoordinatorSettings) -> None:
    """Every transport rule and file checked before anything else starts."""
    check_plaintext(settings)
    _credentials(settings)


def bind(server: grpc.aio.Server, settings: CoordinatorSettings) -> None:
    """Add the listening ports; ConfigError when one cannot be bound."""
    main, mutual = _credentials(settings)
    ports = [(settings.listen, main)]
    if mutual is not None:
        ports.append((settings.contributor_listen, mutual))
    for address, credentials in ports:
        try:
            if credentials is None:
                server.add_insecure_port(address)
            else:
                server.add_secure_port(address, credentials)
        except RuntimeError:
            raise ConfigError(
                f"cannot listen on {address}: the address is in use "
                "(another coordinator?) or not an address of this machine"
            ) from None


def describe(settings: CoordinatorSettings) -> str:
    """How the coordinator listens, for its start-up log line."""
    if settings.tls_cert is None:
        return f"on {settings.listen} (plaintext)"
    if settings.tls_client_ca is None:
        return f"on {settings.listen} (TLS)"
    return (
        f"on {settings.listen} (TLS) and, for contributors with a client certificate, "
        f"on {settings.contributor_listen} (mutual TLS)"
    )
