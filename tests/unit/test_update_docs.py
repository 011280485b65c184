"""What the docs say about updates matches what the engine and the providers do (issue #24).

Each check names the source the sentence must agree with; the sources are cited in
docs/provider-semantics.md.
"""

from __future__ import annotations

import re

from components.manifests.k8s_semantics import AWAITED_KINDS
from tests.support.stackfiles import ROOT

DOCS = ROOT / "docs"


def _text(name: str) -> str:
    return " ".join((DOCS / name).read_text(encoding="utf-8").split())


def _row(doc: str, first_cell: str) -> str:
    for line in (DOCS / doc).read_text(encoding="utf-8").splitlines():
        if line.startswith(f"| {first_cell}"):
            return line
    raise AssertionError(f"{doc}: no row starting with {first_cell!r}")


def test_a_changed_name_is_documented_as_created_first_a_kept_name_as_deleted_first() -> None:
    """pulumi-kubernetes provider.go:1645-1658: delete-first only when the name stays."""
    text = _text("provider-semantics.md")
    assert "all delete-first" not in text
    assert "Every object we register has an explicit name, so a replacement is" not in text
    assert re.search(r"changed name[^.]*create-before-delete", text)
    assert "deleteBeforeReplace" in text  # the smoke Job's option, and why
    ops_text = _text("operations.md")
    assert "Replacements of our Kubernetes objects delete the old object first" not in ops_text


def test_the_service_await_is_not_documented_as_waiting_for_ready_pods() -> None:
    """service.go:416: settled Endpoints with no not-ready address; a ready one is not needed."""
    row = _row("provider-semantics.md", "Service, ClusterIP")
    assert "pods ready" not in row
    assert "service.go:416" in row and "no ready address" in row
    assert "not-ready" in AWAITED_KINDS["Service"] and "ready address" in AWAITED_KINDS["Service"]


def test_moving_a_backend_reuses_the_salt_and_names_stack_migrate() -> None:
    text = _text("operations.md")
    assert "`pulumi stack init` rewrites `encryptionsalt`" not in text
    assert "pulumi stack migrate" in text
    assert "reuses" in text and "encryptionsalt" in text


def test_retained_volumes_are_documented_with_how_to_remove_them() -> None:
    text = _text("operations.md")
    assert "linode-block-storage-retain" in text
    assert "kubectl get pv" in text and "linode-cli volumes delete" in text


def test_the_prepuller_is_documented_as_running_before_the_workloads() -> None:
    text = _text("time-to-ready.md")
    assert "the workloads wait for it" in text


def test_rollback_docs_say_secrets_are_kept_unless_restored() -> None:
    text = _text("rollback.md")
    assert "--restore-secret" in text
