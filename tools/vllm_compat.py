"""Where an installed vLLM keeps what the contract tools need, across versions.

vLLM moves its internals between releases (``FlexibleArgumentParser``, ``make_arg_parser``, the
CLI epilog, ``build_app``, the /metrics mount); each helper here tries the newest location
first and falls back to the older one, so one tool run works on every version with data here.
``force_platform`` pins ``vllm.platforms.current_platform`` first, replacing the compiled CUDA
extensions a parser never calls by empty modules, so a CPU build yields the CUDA image's defaults.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Callable
from typing import Any

CUDA_EXTENSIONS = ("vllm._C", "vllm._C_stable_libtorch", "vllm._moe_C")


def first_attr(candidates: list[tuple[str, str]]) -> Any:
    """The first ``module.attribute`` of ``candidates`` that imports."""
    errors: list[str] = []
    for module, attr in candidates:
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            errors.append(f"{module}.{attr}: {exc}")
    raise ImportError("none of these exist in this vLLM: " + "; ".join(errors))


def _stub_missing(names: tuple[str, ...]) -> None:
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            sys.modules.setdefault(name, types.ModuleType(name))


def force_platform(platform: str) -> str:
    """Pin vLLM's current platform (``cuda`` or ``cpu``); returns the class' qualified name."""
    from vllm import platforms

    if platform == "cuda":
        _stub_missing(CUDA_EXTENSIONS)
        cls = importlib.import_module("vllm.platforms.cuda").CudaPlatform
    elif platform == "cpu":
        cls = importlib.import_module("vllm.platforms.cpu").CpuPlatform
    else:
        raise ValueError(f"unknown platform {platform!r}")
    instance = cls()
    # 0.2x defines a module-level __setattr__ for this; 0.11 only has the private global.
    platforms._current_platform = instance  # type: ignore[attr-defined]
    return f"{type(instance).__module__}.{type(instance).__name__}"


# What moved between releases: (newest location first, older ones after).
FLEXIBLE_PARSER = [
    ("vllm.utils.argparse_utils", "FlexibleArgumentParser"),
    ("vllm.utils", "FlexibleArgumentParser"),
]
MAKE_ARG_PARSER = [
    ("vllm.entrypoints.launchers.cli_args", "make_arg_parser"),
    ("vllm.entrypoints.openai.cli_args", "make_arg_parser"),
]
SUBCOMMAND_EPILOG = [
    ("vllm.entrypoints.serve.utils.api_utils", "VLLM_SUBCMD_PARSER_EPILOG"),
    ("vllm.entrypoints.utils", "VLLM_SUBCMD_PARSER_EPILOG"),
]
BUILD_APP = [
    ("vllm.entrypoints.launchers.app", "build_app"),
    ("vllm.entrypoints.openai.api_server", "build_app"),
]
MOUNT_METRICS = [
    ("vllm.entrypoints.serve.instrumentator.metrics", "attach_router"),
    ("vllm.entrypoints.openai.api_server", "mount_metrics"),
]


def flexible_parser() -> type:
    return first_attr(FLEXIBLE_PARSER)  # type: ignore[no-any-return]


def make_arg_parser() -> Callable[[Any], Any]:
    return first_attr(MAKE_ARG_PARSER)  # type: ignore[no-any-return]


def subcommand_epilog() -> str:
    return first_attr(SUBCOMMAND_EPILOG)  # type: ignore[no-any-return]


def build_app() -> Callable[..., Any]:
    return first_attr(BUILD_APP)  # type: ignore[no-any-return]


def mount_metrics() -> Callable[[Any], Any]:
    return first_attr(MOUNT_METRICS)  # type: ignore[no-any-return]


def metrics_registry() -> Any:
    """The registry vLLM's /metrics serves (its own from 0.2x, else prometheus' default)."""
    try:
        return first_attr([("vllm.v1.metrics.prometheus", "get_prometheus_registry")])()
    except ImportError:
        import prometheus_client

        return prometheus_client.REGISTRY
