"""Hostile inputs to the CLI outside the stack file (issue 23, items 5 and 7): history files,
`render --out` targets, DSNs, `registry adopt` owners. Each ends in a clear error and exit 2 (or
a safe outcome the case checks), never a traceback, never a lost user file, never a password.

All in-process (``ops.__main__.main``); nothing here reaches a database: every DSN is refused
before a connection is tried.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ops.__main__ import main
from ops.render_dir import MANIFEST
from tests.fixtures.history import HIDDEN

PASSWORD = "s3cr3t-Pa55"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


# ------------------------------------------------------------------------------ history files


def _deep_file(path: Path) -> None:
    path.write_text("[" * 100_000 + "]" * 100_000)


def _deep_objects(path: Path) -> None:
    path.write_text('{"a":' * 100_000 + "1" + "}" * 100_000)


def _not_utf8(path: Path) -> None:
    path.write_bytes(b'[{"version": 1, "kind": "update", "message": "\xff\xfe"}]')


def _deep_value(path: Path) -> None:
    """A well-formed history whose newest update holds a config value nested 100,000 deep."""
    updates = json.loads(HIDDEN.read_text())
    newest = max(updates, key=lambda u: u["version"])
    newest["config"]["vllm-platform:models"] = {
        "value": "[" * 100_000 + "]" * 100_000,
        "secret": False,
    }
    path.write_text(json.dumps(updates))


HISTORY_FILES: dict[str, tuple[Callable[[Path], None], str]] = {
    "arrays nested 100,000 deep": (_deep_file, "nested too deeply"),
    "objects nested 100,000 deep": (_deep_objects, "nested too deeply"),
    "not UTF-8": (_not_utf8, "not UTF-8"),
    "a value nested 100,000 deep": (_deep_value, "nested too deeply"),
}


@pytest.mark.parametrize("case", HISTORY_FILES)
@pytest.mark.parametrize("command", ["history", "rollback"])
def test_a_hostile_history_file_is_a_clear_error(
    case: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write, message = HISTORY_FILES[case]
    path = tmp_path / "history.json"
    write(path)
    argv = ["--history-file", str(path)]
    if command == "rollback":
        argv += ["--stack", "production", "--to", "1"]
    code, output = run(capsys, command, *argv)
    assert code == 2, output
    assert message in output and str(path) in output


# ------------------------------------------------------------------------------ render --out


def render(
    capsys: pytest.CaptureFixture[str], out: Path, stack: str = "staging"
) -> tuple[int, str]:
    return run(capsys, "render", "--stack", stack, "--out", str(out))


def test_a_users_file_named_like_a_rendered_one_is_never_deleted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It matched NNN-kind-name.yaml, so the render deleted it; only files a render wrote (its
    manifest lists them) may go."""
    precious = tmp_path / "123-backup-important.yaml"
    precious.write_text("precious: true\n")
    code, output = render(capsys, tmp_path)
    assert code == 2, output
    assert "123-backup-important.yaml" in output
    assert precious.read_text() == "precious: true\n"


def test_a_users_file_added_after_a_render_is_never_deleted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert render(capsys, tmp_path)[0] == 0
    precious = tmp_path / "123-backup-important.yaml"
    precious.write_text("precious: true\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    code, output = render(capsys, tmp_path)
    assert code == 2 and "123-backup-important.yaml" in output, output
    assert precious.read_text() == "precious: true\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_render_replaces_exactly_what_the_previous_one_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = tmp_path / "fresh"
    assert render(capsys, fresh)[0] == 0
    out = tmp_path / "out"
    assert render(capsys, out, "production")[0] == 0
    assert render(capsys, out)[0] == 0  # production's objects go, staging's come
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in fresh.iterdir())


def test_a_symlink_named_like_a_rendered_file_is_not_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "users-file.txt"
    target.write_text("keep\n")
    out = tmp_path / "render"
    out.mkdir()
    (out / "001-namespace-vllm-staging.yaml").symlink_to(target)
    code, output = render(capsys, out)
    assert code == 2, output
    assert target.read_text() == "keep\n"


def test_a_manifest_naming_files_outside_the_directory_deletes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "render"
    assert render(capsys, out)[0] == 0
    outside = tmp_path / "001-namespace-outside.yaml"
    outside.write_text("keep\n")
    manifest = out / MANIFEST
    manifest.write_text(manifest.read_text() + "../001-namespace-outside.yaml\n")
    code, output = render(capsys, out)
    assert code == 2, output
    assert outside.read_text() == "keep\n"


@pytest.mark.parametrize("name", ["001-namespace-vllm-staging.yaml", "SECRETS.md"])
def test_a_directory_named_like_a_rendered_file_is_a_clear_error(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert render(capsys, tmp_path)[0] == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    (tmp_path / name).unlink()
    (tmp_path / name).mkdir()
    code, output = render(capsys, tmp_path)
    assert code == 2, output
    assert name in output
    assert (tmp_path / name).is_dir()
    for other, content in before.items():  # nothing else was deleted or half-written
        if other != name:
            assert (tmp_path / other).read_bytes() == content, other


def test_an_unwritable_out_directory_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    """/proc/self exists and is a directory, but no file can be made in it (even as root)."""
    code, output = render(capsys, Path("/proc/self"))
    assert code == 2, output
    assert "--out /proc/self" in output


# ------------------------------------------------------------------------------ DSNs


ADOPT = (
    "registry",
    "adopt",
    "--environment",
    "staging",
    "--model",
    "m",
    "--owner",
    "vllm-platform/staging",
    "--reason",
    "move",
)
BAD_DSNS = {
    "unterminated quote": f"host=db password='{PASSWORD} more",
    "quoted value with spaces, then junk": f"host=db password='{PASSWORD} x' dbname=r junk",
    "unquoted value with a space": f"host=db password={PASSWORD} tail dbname=r",
    "bad percent-encoding": f"postgresql://owner:{PASSWORD}%zz@db/r",
    "bad percent-encoding at the end": f"postgresql://owner:{PASSWORD}%@db/r",
    "bad port in a URL": f"postgresql://owner:{PASSWORD}@db:notaport/r",
    "unknown key after the password": f"password={PASSWORD} nosuchkey=1",
}


@pytest.mark.parametrize("dsn", BAD_DSNS.values(), ids=list(BAD_DSNS))
@pytest.mark.parametrize(
    "command",
    [
        ("migrate",),
        ("registry", "list"),
        ("registry", "expire-rollouts"),
        ADOPT,
    ],
    ids=["migrate", "list", "expire", "adopt"],
)
def test_a_dsn_that_does_not_parse_never_prints_its_password(
    dsn: str,
    command: tuple[str, ...],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for how in ("flag", "environment"):
        if how == "flag":
            code, output = run(capsys, *command, "--dsn", dsn)
        else:
            monkeypatch.setenv("VLLM_REGISTRY_DSN", dsn)
            code, output = run(capsys, *command)
        assert code == 2, output
        assert output.strip(), "a message is printed"
        for fragment in (PASSWORD, PASSWORD[:6], PASSWORD[-5:], "more", "tail"):
            assert fragment not in output, (how, output)


# ------------------------------------------------------------------------------ adopt --owner


@pytest.mark.parametrize(
    ("environment", "owner"),
    [
        ("production", "vllm-platform/development"),
        ("production", "vllm-platform/staging"),
        ("staging", "vllm-platform/prod-eu"),
        ("development", "vllm-platform/production"),
    ],
)
def test_an_entry_is_never_handed_to_another_environments_stack(
    environment: str, owner: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run(
        capsys,
        "registry",
        "adopt",
        "--dsn",
        "host=db.invalid dbname=r",
        "--environment",
        environment,
        "--model",
        "llama",
        "--owner",
        owner,
        "--reason",
        "takeover",
    )
    assert code == 2, output
    assert "--owner" in output and owner in output
    assert "cannot connect" not in output  # refused before any connection


# ------------------------------------------------------------------------ --stack and --file


@pytest.mark.parametrize("command", ["plan", "render"])
def test_stack_and_file_together_is_refused_not_a_silent_choice(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--stack production --file Pulumi.staging.yaml` planned (or rendered) staging, headed
    with staging's name only in small print."""
    out = ["--out", str(tmp_path / "r")] if command == "render" else []
    code, text = run(
        capsys, command, "--stack", "production", "--file", "Pulumi.staging.yaml", *out
    )
    assert code == 2 and "not both" in text
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("stack", ["../Pulumi.production", "x/../../etc/passwd"])
def test_a_stack_name_that_is_a_path_is_refused(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = run(capsys, "plan", "--stack", stack)
    assert code == 2 and f"--stack {stack}: a stack name, not a path" in text


# ------------------------------------------------------------------------------ schema --out


@pytest.mark.parametrize("check", [False, True], ids=["write", "check"])
def test_schema_out_onto_a_directory_or_an_unwritable_path_exits_2(
    check: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ops schema --out DIR` (or a path under a file) ended in an IsADirectoryError traceback."""
    blocker = tmp_path / "a-file"
    blocker.write_text("mine")
    # (--check of a path that cannot exist says "out of date", exit 1: nothing to read there)
    for out in (tmp_path,) if check else (tmp_path, blocker / "schema.json"):
        code, text = run(capsys, "schema", "--out", str(out), *(["--check"] if check else []))
        assert code == 2 and text.startswith(f"error: --out {out}: cannot "), text
    assert blocker.read_text() == "mine"
