"""Which environment and stack each writer role writes for (``vllm_platform_registry_writers``,
migration 0006). Only the schema owner may bind or unbind a role; the registry's functions take a
writer's identity from this binding, never from what the writer passes."""

from __future__ import annotations

from components.registry.rows import Conn


def bind_writer(conn: Conn, role: str, environment: str, owner_stack: str) -> None:
    """Bind ``role`` to ``environment`` and ``owner_stack`` (``<project>/<stack>``)."""
    with conn.transaction():
        conn.execute(
            "SELECT vllm_platform_registry_bind_writer(%s, %s, %s)",
            (role, environment, owner_stack),
        )


def unbind_writer(conn: Conn, role: str) -> None:
    """``role`` writes nothing any more (no row is changed or removed)."""
    with conn.transaction():
        conn.execute("SELECT vllm_platform_registry_unbind_writer(%s)", (role,))


def binding_of(conn: Conn, role: str) -> tuple[str, str] | None:
    """(environment, owner stack) ``role`` is bound to, None when it is not bound."""
    found = conn.execute(
        "SELECT environment, owner_stack FROM vllm_platform_registry_writers WHERE role_name = %s",
        (role,),
    ).fetchone()
    return (str(found[0]), str(found[1])) if found is not None else None
