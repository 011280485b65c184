"""Pure planning over a validated StackConfig: capacity, memory fit, rollout strategy, releases.

No Pulumi, no Kubernetes objects, no database: what ``ops plan`` prints and the program obeys.
"""
