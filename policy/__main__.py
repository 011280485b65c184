"""Entry point of the policy pack: ``pulumi preview --policy-pack policy`` runs this file.

The engine runs it with this directory on ``sys.path``; the project root is added so the pack
imports as the ``policy`` package, exactly as the tests import it. Constructing ``PolicyPack``
starts the analyzer server and never returns, so nothing else may import this module.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.policies import POLICIES

PolicyPack(
    name="vllm-platform",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
    description="Guardrails for vLLM inference servers on LKE GPU nodes.",
)
