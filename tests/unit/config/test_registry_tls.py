"""registry.sslmode / registry.sslRootCert: only values every registry client accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.config import ConfigError, load_stack_config
from tests.support.stackfiles import ROOT, raw_stack

CA = "tests/fixtures/tls/registry-ca.pem"


def _load(**registry: Any) -> Any:
    raw = raw_stack("staging")
    raw["registry"].update(registry)
    return load_stack_config(raw, set()).config


def _paths(**registry: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        _load(**registry)
    return [i.path for i in info.value.issues]


@pytest.mark.parametrize(
    ("registry", "path"),
    [
        ({"sslmode": "verify-ca"}, "registry.sslRootCert"),
        ({"sslmode": "prefer"}, "registry.sslmode"),
        ({"sslmode": "allow"}, "registry.sslmode"),
        ({"sslRootCert": "tests/fixtures/tls/missing.pem"}, "registry.sslRootCert"),
        ({"sslRootCert": "README.md"}, "registry.sslRootCert"),
        ({"sslRootCert": ""}, "registry.sslRootCert"),
    ],
)
def test_tls_settings_a_client_would_refuse_are_rejected(
    registry: dict[str, Any], path: str
) -> None:
    assert _paths(**registry) == [path]


def test_libpq_and_lib_pq_get_their_own_root_certificate_values() -> None:
    system = _load(sslmode="verify-full").registry
    assert (system.libpq_root_cert, system.lib_pq_root_cert) == ("system", None)
    given = _load(sslmode="verify-ca", sslRootCert=CA).registry
    assert (given.libpq_root_cert, given.lib_pq_root_cert) == (CA, CA)
    assert given.ssl_root_cert_pem is not None
    assert given.ssl_root_cert_pem.startswith("-----BEGIN CERTIFICATE-----")
    plain = _load(sslmode="require").registry
    assert (plain.libpq_root_cert, plain.lib_pq_root_cert) == (None, None)


def test_prefer_is_fine_when_the_provider_does_not_connect() -> None:
    assert _load(sslmode="prefer", manageRoles=False).registry.sslmode == "prefer"


def test_a_ca_file_with_a_private_key_is_refused(tmp_path: Path) -> None:
    """The CA's PEM reaches the health reporter through a ConfigMap: never a key."""
    key = "-----BEGIN " + "PRIVATE KEY-----\nMIIE\n-----END " + "PRIVATE KEY-----\n"
    bad = tmp_path / "ca-and-key.pem"
    bad.write_text((ROOT / CA).read_text() + key)
    with pytest.raises(ConfigError) as info:
        _load(sslmode="verify-full", sslRootCert=str(bad))
    assert [i.path for i in info.value.issues] == ["registry.sslRootCert"]
    assert "holds a private key" in str(info.value)
