"""TLS rules that need no server: loopback, settings that go together, PEM checks, gen-certs."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from runsurge import devca
from runsurge.config import (
    ClientSettings,
    CoordinatorSettings,
    load_settings,
    write_client_config,
)
from runsurge.errors import ConfigError
from runsurge.tls import ClientTls, is_loopback, read_key_pair


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("certs")
    devca.generate(target, ["coord.example", "10.1.2.3"], days=7)
    return target


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1:7070", True),
        ("127.3.4.5:7070", True),
        ("[::1]:7070", True),
        ("localhost:7070", True),
        ("LOCALHOST:7070", True),
        ("0.0.0.0:7070", False),
        ("[::]:7070", False),
        (":7070", False),
        ("10.0.0.5:7070", False),
        ("coord.example:7070", False),
        ("localhost.evil.example:7070", False),
    ],
)
def test_only_loopback_addresses_count_as_loopback(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"tls_cert": "/c.pem"}, "tls_cert and tls_key go together"),
        ({"tls_key": "/k.pem"}, "tls_cert and tls_key go together"),
        ({"tls_client_ca": "/ca.pem", "contributor_listen": "127.0.0.1:1"}, "needs tls_cert"),
        (
            {"tls_cert": "/c", "tls_key": "/k", "tls_client_ca": "/ca.pem"},
            "tls_client_ca and contributor_listen go together",
        ),
        (
            {"tls_cert": "/c", "tls_key": "/k", "contributor_listen": "127.0.0.1:1"},
            "tls_client_ca and contributor_listen go together",
        ),
        ({"contributor_listen": "nowhere"}, "must be HOST:PORT"),
    ],
)
def test_coordinator_tls_settings_that_go_together_are_refused_apart(
    flags: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(CoordinatorSettings, flags)


def test_a_client_certificate_needs_its_key_and_a_trust_root(certs: Path) -> None:
    with pytest.raises(ConfigError, match="go together"):
        ClientTls(ca=certs / "ca.pem", cert=certs / "contributor.pem").credentials("contributor")
    with pytest.raises(ConfigError, match="no tls_ca"):
        ClientTls(cert=certs / "contributor.pem", key=certs / "contributor-key.pem").credentials(
            "contributor"
        )
    assert ClientTls().credentials("client") is None  # plaintext
    assert ClientTls(ca=certs / "ca.pem").credentials("client") is not None


def test_a_file_that_is_not_pem_is_named(certs: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"\x00\xffnot pem")
    with pytest.raises(ConfigError, match=f"{junk} holds no PEM certificate"):
        ClientTls(ca=junk).credentials("client")
    with pytest.raises(ConfigError, match=f"cannot read the CA certificate .*{tmp_path}/nope"):
        ClientTls(ca=tmp_path / "nope").credentials("client")
    with pytest.raises(ConfigError, match="does not belong to the certificate"):
        read_key_pair(certs / "server.pem", certs / "ca-key.pem", "coordinator")
    with pytest.raises(ConfigError, match=f"{certs / 'ca.pem'} is not a PEM private key"):
        read_key_pair(certs / "server.pem", certs / "ca.pem", "coordinator")


def test_gen_certs_writes_a_ca_a_server_and_a_contributor_certificate(certs: Path) -> None:
    ca = x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes())
    server = x509.load_pem_x509_certificate((certs / "server.pem").read_bytes())
    client = x509.load_pem_x509_certificate((certs / "contributor.pem").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for leaf in (server, client):
        leaf.verify_directly_issued_by(ca)
        assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["coord.example"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.1.2.3")]
    usage = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    lifetime = server.not_valid_after_utc - server.not_valid_before_utc
    assert 7 <= lifetime.days <= 8
    for name, secret in devca.FILES.items():
        mode = stat.S_IMODE((certs / name).stat().st_mode)
        assert mode == (0o600 if secret else 0o644), name
    read_key_pair(certs / "server.pem", certs / "server-key.pem", "coordinator")
    read_key_pair(certs / "contributor.pem", certs / "contributor-key.pem", "contributor")


def test_gen_certs_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    devca.generate(tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in devca.FILES}
    (tmp_path / "server.pem").unlink()  # one missing is no excuse to replace the others
    with pytest.raises(ConfigError, match=r"refusing to overwrite .*ca-key\.pem.*--force"):
        devca.generate(tmp_path)
    assert not (tmp_path / "server.pem").exists()
    assert (tmp_path / "ca-key.pem").read_bytes() == before["ca-key.pem"]
    devca.generate(tmp_path, force=True)
    assert (tmp_path / "ca-key.pem").read_bytes() != before["ca-key.pem"]


@pytest.mark.parametrize("host", ["", "has space", "http://x"])
def test_gen_certs_refuses_a_host_that_is_neither_name_nor_address(
    tmp_path: Path, host: str
) -> None:
    with pytest.raises(ConfigError, match="neither a host name nor an IP address"):
        devca.generate(tmp_path, [host])
    assert list(tmp_path.iterdir()) == []


def test_the_saved_ca_serves_only_the_saved_coordinator(tmp_path: Path) -> None:
    config = tmp_path / "client.json"
    write_client_config(config, "coord:7070", "tok", tls_ca=Path("ca.pem"))
    saved = ClientSettings(config=config).resolved()
    assert saved.tls_ca == Path("ca.pem").resolve()
    assert ClientSettings(config=config, coordinator="coord:7070").resolved().tls_ca is not None
    assert ClientSettings(config=config, coordinator="other:7070").resolved().tls_ca is None
