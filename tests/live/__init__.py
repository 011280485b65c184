"""The live tier (``make test-live``): vLLM's CPU build serving a locally made model with
the rendered stack."""
