"""The Object Storage weight source's connections: every rank of every replica that may start
at once opens ``weightSource.concurrency`` of them, and the account allows
``timing.objectStorageConnectionLimit`` per endpoint (Akamai: 750 on E0/E1, 2,000 on E2/E3;
docs/time-to-ready.md).
"""

from __future__ import annotations

from components.config import ConfigIssue, StackConfig


def connection_issues(cfg: StackConfig) -> list[ConfigIssue]:
    """One issue when the streams of every replica (at its autoscaling maximum) starting at once
    would open more connections than the account's limit, at the first streaming model."""
    streaming = [(i, m) for i, m in enumerate(cfg.models) if m.streams_weights]
    if not streaming:
        return []
    total = 0
    for _, m in streaming:
        auto = m.active_autoscaling
        replicas = auto.max_replicas if auto is not None else m.replicas
        ranks = 1 if m.accelerator == "cpu" else m.gpus_per_replica
        total += replicas * ranks * m.weight_source.concurrency
    limit = cfg.timing.object_storage_connection_limit
    if total <= limit:
        return []
    first = streaming[0][0]
    return [
        ConfigIssue(
            f"models[{first}].weightSource.concurrency",
            f"every streaming replica starting at once opens {total} connections to Object "
            f"Storage (replicas x ranks x concurrency) but the account allows {limit} per "
            "endpoint (timing.objectStorageConnectionLimit): lower weightSource.concurrency",
        )
    ]
