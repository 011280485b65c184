"""`migrate` and `registry list` against a real PostgreSQL: output, exit codes, no passwords."""

from __future__ import annotations

import pytest
from psycopg import conninfo

from components.registry import store
from components.registry.connection import connect
from components.registry.migrate import load_migrations, migrate
from ops.registry_cli import main
from tests.integration.helpers import spec

pytestmark = pytest.mark.integration

PASSWORD = "Top-Secret-pw-42"


def test_migrate_applies_then_reports_up_to_date(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = conninfo.make_conninfo(db, password=PASSWORD)  # trust auth ignores it

    shipped = load_migrations()
    assert main(["migrate", "--dsn", dsn]) == 0
    assert "applied " + ", ".join(mig.filename for mig in shipped) in capsys.readouterr().out
    assert main(["migrate", "--dsn", dsn]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"up to date: {len(shipped)} migrations")
    assert PASSWORD not in out and "***" in out


def test_registry_list_prints_a_table_filtered_by_environment(
    migrated_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(migrated_db, autocommit=True) as conn:
        store.register(conn, spec())
        store.register(
            conn,
            spec(environment="production", stack="production", replicas=4),
            owner="vllm-platform/production",
        )
        store.register(
            conn,
            spec(
                environment="production",
                stack="production",
                replicas=4,
                model_name="sql-expert",
                base_model_name=spec().model_name,
                adapter_hf_repo="acme/sql-expert-lora",
                adapter_revision="1" * 40,
            ),
            owner="vllm-platform/production",
        )
    monkeypatch.setenv("VLLM_REGISTRY_DSN", migrated_db)

    assert main(["registry", "list", "--environment", "production"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "ENVIRONMENT", "MODEL", "BASE", "HEALTH", "ROUTED", "REPLICAS", "IMAGE", "TARGET",
        "ENDPOINT", "OWNER", "UPDATED",
    ]  # fmt: skip
    assert len(lines) == 4
    model = spec().model_name
    assert lines[2].split()[:6] == ["production", model, "-", "healthy", "yes", "4"]
    # An adapter's row names the base model whose replicas serve it.
    assert lines[3].split()[:6] == ["production", "sql-expert", model, "healthy", "yes", "4"]
    assert "vllm-platform/production" in lines[2].split()


@pytest.mark.parametrize(
    "argv",
    [
        ["migrate", "--dsn", f"postgresql://nobody:{PASSWORD}@127.0.0.1:1/registry"],
        ["registry", "list", "--dsn", f"host=127.0.0.1 port=1 password={PASSWORD} junk"],
        ["registry", "list"],
    ],
)
def test_bad_input_or_unreachable_database_exits_2_with_one_line_and_no_password(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VLLM_REGISTRY_DSN", raising=False)

    assert main(argv) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert PASSWORD not in err and "Traceback" not in err


def test_listing_a_database_without_the_registry_says_to_migrate(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["registry", "list", "--dsn", db]) == 2
    assert "run `python -m ops migrate`" in capsys.readouterr().err


EXPIRE = ["registry", "expire-rollouts"]
ADOPT = [
    "registry", "adopt", "--environment", "staging", "--model", "m",
    "--owner", "vllm-platform/staging", "--reason", "handover",
]  # fmt: skip


@pytest.mark.parametrize(
    ("command", "applied"),
    [(EXPIRE, 0), (ADOPT, 0), (ADOPT, 5), (ADOPT, 7)],
    ids=[
        "expire, no registry",
        "adopt, no registry",
        "adopt, migrated to 0005",
        "adopt, migrated to 0007",
    ],
)
def test_every_command_on_a_database_behind_the_migrations_says_to_migrate(
    db: str, capsys: pytest.CaptureFixture[str], command: list[str], applied: int
) -> None:
    """adopt calls 0006's function: on a registry from before it (or none) the operator is told
    to migrate, not that a relation or function does not exist."""
    if applied:
        migrate(db, load_migrations()[:applied])

    assert main([*command, "--dsn", db]) == 2

    err = capsys.readouterr().err
    assert "run `python -m ops migrate`" in err and err.count("\n") == 1
