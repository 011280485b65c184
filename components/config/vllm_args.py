"""``models[].extraArgs`` judged by vLLM's own parser contract (``components/vllm_contract.py``).

Every token is resolved as ``vllm serve`` would resolve it (underscore folding, ``--flag=value``,
dotted JSON keys, unique-prefix abbreviation). A flag is refused when vLLM would not know it,
when it is ambiguous (vLLM exits), when it resolves to an option the platform sets from the
model's own keys (``MANAGED_DESTS``), or when it would make vLLM ignore or bypass those
(``REFUSED_DESTS``: ``--config`` splices a YAML file's flags in, ``--uds`` serves on a socket
instead of host:port, ...). Value-taking flags consume their values; a value never carries a
secret.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from components.config.secrets import secret_value_reason
from components.config.vllm_dests import ALLOWED_DESTS
from components.vllm_contract import Resolution, VllmContract, VllmOption, looks_like_value

# vLLM dest -> where the platform's value comes from.
MANAGED_DESTS: Final[dict[str, str]] = {
    "model": "set from hfModelId",
    "model_tag": "set from hfModelId",
    "served_model_name": "set from name",
    "host": "127.0.0.1: only the route allowlist in the pod reaches vLLM",
    "port": "8001 on the loopback, behind the route allowlist",
    "tensor_parallel_size": "set from gpusPerReplica",
    "pipeline_parallel_size": "one replica is one node; use gpusPerReplica",
    "data_parallel_size": "scale with replicas",
    "data_parallel_size_local": "scale with replicas",
    # vllm/config/parallel.py:945-949 (0.32.0): world size = PP x TP x prefill CP.
    "prefill_context_parallel_size": "a replica has gpusPerReplica GPUs; context parallelism "
    "multiplies the GPUs it needs",
    "max_model_len": "set from maxModelLen",
    "gpu_memory_utilization": "set from gpuMemoryUtilization",
    "revision": "set from revision",
    "api_key": "VLLM_API_KEY from the vllmApiKey secret",
    "hf_token": "HF_TOKEN from the hfToken secret",
    "download_dir": "HF_HOME on the weight cache volume",
    "uvicorn_log_level": "logging is the platform's",
    "log_level": "logging is the platform's",
    "disable_log_requests": "logging is the platform's",
    "enable_lora": "set from loraAdapters",
    "lora_modules": "set from loraAdapters (fetched at their revision, served offline)",
    "max_loras": "set from maxLoras",
    "max_lora_rank": "set from maxLoraRank",
    "enable_log_requests": "logging is the platform's",
}
_HTTPS = "serves HTTPS; the probes, the smoke test, the health reporter and the router speak HTTP"
_MULTINODE = "multi-node data parallelism; the platform runs one replica per pod"
_UNGUARDED = "adds control endpoints that the API key does not guard"
# vLLM dest -> why it would make vLLM ignore or bypass the managed flags (or not serve at all).
REFUSED_DESTS: Final[dict[str, str]] = {
    "config": "reads more flags from a YAML file, which would override the managed ones",
    "uds": "serves on a Unix socket instead of host:port, so the Service and probes find nothing",
    "headless": "runs no API server at all",
    "help": "prints the help and exits, so the pod would crash-loop",
    "ssl_keyfile": _HTTPS,
    "ssl_certfile": _HTTPS,
    "ssl_ca_certs": _HTTPS,
    "ssl_cert_reqs": _HTTPS,
    "enable_ssl_refresh": _HTTPS,
    "data_parallel_address": _MULTINODE,
    "data_parallel_rank": _MULTINODE,
    "data_parallel_start_rank": _MULTINODE,
    "data_parallel_rpc_port": _MULTINODE,
    "data_parallel_hybrid_lb": _MULTINODE,
    "data_parallel_backend": _MULTINODE,
    "data_parallel_external_lb": _MULTINODE,
    "data_parallel_multi_port_external_lb": _MULTINODE,
    "data_parallel_supervisor_port": _MULTINODE,
    "nnodes": _MULTINODE,
    "node_rank": _MULTINODE,
    "master_addr": _MULTINODE,
    "master_port": _MULTINODE,
    "enable_elastic_ep": _MULTINODE,
    "elastic_ep_max_dp_size": _MULTINODE,
    "ssl_ciphers": _HTTPS,
    "grpc": "serves gRPC on --port instead of the HTTP API that the probes, the smoke test, "
    "the health reporter and the router use",
    "grpc_port": "opens a gRPC port (Rust frontend) that the Service and NetworkPolicy do not "
    "know and the API key middleware does not see",
    "tokens_only": "serves only the token-in/token-out endpoints, not the chat and completion "
    "API the smoke test and the router use",
    "mm_encoder_only": "runs only the multimodal encoder (disaggregated encoding), no completions",
    "enable_fault_tolerance": f"{_UNGUARDED} (/fault_tolerance/apply)",
    "profiler_config": f"{_UNGUARDED} (/start_profile, /stop_profile)",
    "numa_bind": "starts the workers under numactl --membind, which the RuntimeDefault seccomp "
    "profile denies without CAP_SYS_NICE",
    "api_server_count": "runs no API server (0) or several processes that change /metrics",
    "middleware": "imports code that wraps the server and can bypass the API key",
    "root_path": "changes which paths the API key guards (it strips the root path first)",
    "disable_log_stats": "removes every vllm:* metric, which the alerts and autoscaling read",
    "kv_cache_memory_bytes": "overrides the KV cache sizing from gpuMemoryUtilization",
    "num_gpu_blocks_override": "overrides the KV cache sizing from gpuMemoryUtilization",
}
# Sources (vLLM v0.11.0): --uds replaces host:port (entrypoints/openai/api_server.py
# setup_server); --config splices a YAML file's flags in (utils/__init__.py
# FlexibleArgumentParser._pull_args_from_config); --headless / --api-server-count
# (entrypoints/cli/serve.py); --middleware (api_server.py build_app); --root-path vs the
# AuthenticationMiddleware's /v1 check (api_server.py); --disable-log-stats skips the
# PrometheusStatLogger (v1/engine/async_llm.py). vLLM 0.32.0: --grpc runs serve_grpc instead
# of the HTTP server (entrypoints/cli/serve.py:59-63); the routes --enable-fault-tolerance and
# --profiler-config add, and that they answer without the key
# (components/data/vllm/v0.32.0/routes.json, registered_only_with); --numa-bind's numactl
# --membind (utils/numa_utils.py:345-369). Every other dest of every contract version is
# reviewed as harmless in components/config/vllm_dests.py; an unreviewed one is refused.


def _judge(res: Resolution, version: str) -> str | None:
    flag = res.token.split("=", 1)[0]
    if not res.options:
        return f"{flag!r} is not a `vllm serve` flag in vLLM {version}"
    if len(res.options) > 1:
        names = ", ".join(o.option_strings[0] for o in res.options)
        return (
            f"{flag!r} is ambiguous in vLLM {version} (it could be {names}) and vLLM would "
            "exit; spell the flag out"
        )
    option = res.options[0]
    name = option.option_strings[0]
    seen = "" if flag in option.option_strings else f" (vLLM reads it as {name})"
    if option.dest in MANAGED_DESTS:
        return (
            f"{flag!r}{seen} is managed by the platform ({MANAGED_DESTS[option.dest]}); remove it"
        )
    if option.dest in REFUSED_DESTS:
        return f"{flag!r}{seen} is refused: it {REFUSED_DESTS[option.dest]}"
    if option.dest not in ALLOWED_DESTS:
        return (
            f"{flag!r}{seen} is new in vLLM {version} and not reviewed yet "
            "(components/config/vllm_dests.py)"
        )
    return None


def _unknown_json_key(res: Resolution, following: str | None) -> str | None:
    """A key the option's config dataclass does not have: vLLM refuses it at start
    (``parse_dataclass`` validates with pydantic, engine/arg_utils.py). Dotted keys
    (``--compilation-config.level``) and the keys of a JSON object value are checked."""
    option = res.option
    if option is None or option.json_keys is None:
        return None
    keys: list[str] = []
    if res.dotted and res.key is not None:
        keys = [res.key]
    else:
        value = res.inline if res.inline is not None else following
        try:
            parsed = json.loads(value) if value is not None else None
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            keys = [str(k) for k in parsed]
    for key in keys:
        if key not in option.json_keys:
            shown = ", ".join(sorted(option.json_keys)[:12])
            return f"{key!r} is not a key of {option.option_strings[0]} (it takes {shown}, ...)"
    return None


def _values_needed(option: VllmOption) -> tuple[int, int | None]:
    """(fewest, most) values after the flag; ``None``: no limit."""
    if not option.takes_value:
        return 0, 0
    nargs = option.nargs
    if nargs is None:
        return 1, 1
    if isinstance(nargs, int):
        return nargs, nargs
    return {"?": (0, 1), "*": (0, None), "+": (1, None)}.get(nargs, (1, 1))


def extra_args_issue(args: Sequence[str], contract: VllmContract) -> tuple[int, str] | None:
    """The first problem in ``args`` as ``(index, message)``, or ``None`` when vLLM accepts all."""
    i = 0
    while i < len(args):
        token = args[i]
        reason = secret_value_reason(token)
        if reason is not None:
            return i, f"carries {reason} in plain text; secrets reach vLLM only from Secrets"
        if token == "--":
            return i, "'--' makes vLLM read what follows as positional arguments"
        if not token.startswith("-") or looks_like_value(token):
            return i, (
                f"{token!r} is a value without a flag (vLLM would refuse it as an extra "
                "positional argument); give it after its flag, or as --flag=value"
            )
        res = contract.resolve(token)
        problem = _judge(res, contract.version)
        if problem is not None:
            return i, problem
        option = res.option
        assert option is not None  # _judge refused every other case
        fewest, most = _values_needed(option)
        unknown = _unknown_json_key(res, args[i + 1] if i + 1 < len(args) else None)
        if unknown is not None:
            return i, f"{token!r}: {unknown}"
        if res.dotted:
            if res.inline is None:
                if i + 1 >= len(args):
                    return i, f"{token!r} needs a value"
                reason = secret_value_reason(args[i + 1])
                if reason is not None:
                    return i + 1, f"carries {reason} in plain text"
                i += 1
            i += 1
            continue
        if res.inline is not None:
            if most == 0:
                return i, f"{option.option_strings[0]} takes no value, got {token!r}"
            i += 1
            continue
        taken = 0
        while (most is None or taken < most) and i + 1 + taken < len(args):
            nxt = args[i + 1 + taken]
            if not looks_like_value(nxt):
                break
            reason = secret_value_reason(nxt)
            if reason is not None:
                return i + 1 + taken, f"carries {reason} in plain text"
            taken += 1
        if taken < fewest:
            return i, (
                f"{option.option_strings[0]} needs a value (a value that starts with '-' "
                f"must be written {option.option_strings[0]}=VALUE)"
            )
        i += 1 + taken
    return None


def extra_arg_values(args: Sequence[str], contract: VllmContract) -> dict[str, str]:
    """What vLLM's parser makes of ``args`` (already accepted by ``extra_args_issue``): each
    option's ``dest`` -> its value as written, the last occurrence winning as in argparse
    (``""`` for a flag that takes none; several values are joined with a space)."""
    values: dict[str, str] = {}
    i = 0
    while i < len(args):
        res = contract.resolve(args[i]) if args[i].startswith("-") else None
        option = res.option if res is not None else None
        if res is None or option is None:
            i += 1
            continue
        if res.inline is not None:
            values[option.dest] = res.inline
            i += 1
            continue
        _, most = _values_needed(option)
        taken: list[str] = []
        while (most is None or len(taken) < most) and i + 1 + len(taken) < len(args):
            nxt = args[i + 1 + len(taken)]
            if not (res.dotted or looks_like_value(nxt)):
                break
            taken.append(nxt)
            if res.dotted:
                break
        values[option.dest] = " ".join(taken)
        i += 1 + len(taken)
    return values
