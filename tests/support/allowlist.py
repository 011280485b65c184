"""Request targets the route allowlist must refuse on its API port: spellings that some layer
might read as another route (each would reach vLLM unguarded, or as a runtime LoRA call, if the
proxy judged a different path than uvicorn/Starlette routes). Sent to the real HAProxy in the
unit tests and to the live tier's proxy in front of vLLM."""

BYPASSES = (
    "/V1/models",
    "//v1/models",
    "/v1//models",
    "/v1/../tokenize",
    "/v1/./models",
    "/v1/./../invocations",
    "/v1/%2e%2e/tokenize",
    "/v1/%2E%2E/version",
    "/v1/load%5flora_adapter",
    "/v1/load_lora_adapter/",
    "/v1/unload_lora_adapter?x=1",
    "/v1/models/..%2f..%2ftokenize",
    "/v1;/../invocations",
    "http://localhost/tokenize",
    "http://localhost/v1/../invocations",
    "/v1\\..\\tokenize",
    "*",
)
