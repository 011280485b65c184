"""Loading migration files: naming, ordering, checksums."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.registry.migrate import MigrationError, load_migrations


def test_the_shipped_migrations_load_in_version_order() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert migrations[0].filename == "0001_model_registry.sql"
    assert all(len(m.checksum) == 64 for m in migrations)


def test_checksums_ignore_line_endings_but_not_content(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_bytes(b"SELECT 1;\nSELECT 2;\n")
    lf = load_migrations(tmp_path)[0].checksum
    (tmp_path / "0001_a.sql").write_bytes(b"SELECT 1;\r\nSELECT 2;\r\n")
    assert load_migrations(tmp_path)[0].checksum == lf
    (tmp_path / "0001_a.sql").write_bytes(b"SELECT 1;\nSELECT 3;\n")
    assert load_migrations(tmp_path)[0].checksum != lf


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["0001_a.sql", "0001_b.sql"], "version 0001 is also"),
        (["1_a.sql"], "named NNNN_lower_snake.sql"),
        (["0001_Bad-Name.sql"], "named NNNN_lower_snake.sql"),
        ([], "no migration files"),
    ],
)
def test_bad_migration_directories_are_refused(
    tmp_path: Path, names: list[str], message: str
) -> None:
    for name in names:
        (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=message):
        load_migrations(tmp_path)
