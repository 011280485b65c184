"""The vllm-platform CrossGuard policy pack (``pulumi preview --policy-pack policy``).

``rules`` holds the rules as pure functions, ``policies`` wraps them as pulumi-policy
``Policy`` objects, ``__main__`` serves them as the pack. Importing this package starts nothing.
"""
