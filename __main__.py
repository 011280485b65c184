"""vllm-platform: vLLM inference servers on LKE GPU nodes, published to the model registry.

Thin on purpose: load and validate the stack config, wire the components, export outputs.
The wiring lives in components/program.py so tests and benchmarks run exactly this program.
"""

from components.program import run

run()
