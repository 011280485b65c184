"""Time to ready (#17): caches on the volume, the fetch-weights init container, the image
pre-puller, and the estimates ``ops plan`` prints (hand-checked numbers)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import pytest

from components.config import TimingConfig
from components.config.images import PAUSE_IMAGE
from components.contract import GPU_RESOURCE, GPU_TAINT_KEY
from components.manifests.prepull import PREPULLER_NAME, image_prepuller
from components.manifests.toolkit import HF_TOKEN_SECRET
from components.manifests.vllm.args import CACHE_MOUNT
from components.manifests.vllm.prefetch import FETCH_CONTAINER, FETCH_SCRIPT
from components.manifests.vllm.workload import (
    ROLLOUT_MARGIN_SECONDS,
    rollout_timeouts,
    startup_budget_seconds,
    workload,
)
from components.planning.timing import (
    download_budget_seconds,
    estimate_model,
    prefetches_weights,
    size_class,
    timing_warnings,
)
from tests.support.stackfiles import ROOT
from tests.unit.manifests.vllm.support import stack

CACHE_VARS = (
    "HF_HOME",
    "XDG_CACHE_HOME",
    "VLLM_CACHE_ROOT",
    "TRITON_CACHE_DIR",
    "TORCHINDUCTOR_CACHE_DIR",
    "FLASHINFER_WORKSPACE_BASE",
    "CUDA_CACHE_PATH",
)


def pod(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def mount_volume(container: dict[str, Any], path: str) -> str:
    """The volume a path is on (the longest mount prefix)."""
    best = max(
        (
            m
            for m in container["volumeMounts"]
            if path == m["mountPath"] or path.startswith(m["mountPath"] + "/")
        ),
        key=lambda m: len(m["mountPath"]),
    )
    return str(best["name"])


# ------------------------------------------------------------------------------------- caches


@pytest.mark.parametrize("mode", ["per-replica", "shared"])
def test_every_cache_is_on_the_persistent_weight_volume(mode: str) -> None:
    extra = {} if mode == "per-replica" else {"storageClass": "nfs"}
    cfg, m, plan = stack(model=1, weightCache={"mode": mode, **extra})
    obj = workload(cfg, m, plan)
    server = pod(obj)["containers"][0]
    env = env_of(server)
    volumes = {v["name"]: v for v in pod(obj)["volumes"]}
    for var in CACHE_VARS:
        name = mount_volume(server, env[var])
        assert env[var].startswith(CACHE_MOUNT + "/"), var
        if mode == "per-replica":
            assert [c["metadata"]["name"] for c in obj["spec"]["volumeClaimTemplates"]] == [name]
        else:
            assert "persistentVolumeClaim" in volumes[name], var
    # HOME stays an emptyDir: nothing a restart reuses may live there.
    assert "emptyDir" in volumes[mount_volume(server, env["HOME"])]


def test_with_weight_cache_none_the_caches_are_an_empty_dir() -> None:
    cfg, m, plan = stack(model=1, weightCache={"mode": "none"})
    obj = workload(cfg, m, plan)
    server = pod(obj)["containers"][0]
    volumes = {v["name"]: v for v in pod(obj)["volumes"]}
    assert "emptyDir" in volumes[mount_volume(server, env_of(server)["VLLM_CACHE_ROOT"])]


# ----------------------------------------------------------------------------- fetch-weights


def test_weights_are_fetched_by_an_init_container_from_the_server_image() -> None:
    cfg, m, plan = stack()
    spec = pod(workload(cfg, m, plan))
    # the weights, then the route allowlist (a native sidecar, restartPolicy Always)
    fetch, sidecar = spec["initContainers"]
    assert sidecar.get("restartPolicy") == "Always" and "restartPolicy" not in fetch
    server = spec["containers"][0]
    assert fetch["name"] == FETCH_CONTAINER
    assert fetch["image"] == server["image"] == m.image
    assert fetch["command"] == ["python3", "-c", FETCH_SCRIPT]
    assert fetch["volumeMounts"] == server["volumeMounts"]
    assert fetch["securityContext"] == server["securityContext"]
    assert GPU_RESOURCE not in fetch["resources"]["requests"]
    env = env_of(fetch)
    assert env["MODEL_ID"] == m.hf_model_id and env["MODEL_REVISION"] == m.revision
    assert env["HF_TOKEN"] == {
        "secretKeyRef": {"name": HF_TOKEN_SECRET, "key": "token"}  # a gated model: required
    }
    for var in CACHE_VARS:
        assert env[var] == env_of(server)[var], var
    # The server then downloads nothing: every hub call is local_files_only.
    assert env_of(server)["HF_HUB_OFFLINE"] == "1"
    assert "HF_HUB_OFFLINE" not in env
    assert env["NVIDIA_VISIBLE_DEVICES"] == "void"  # it gets no GPU from NVIDIA's runtime


@pytest.mark.parametrize(
    "args", [["--speculative_config={}"], ["--load-format", "gguf"], ["--hf-config-path", "o/c"]]
)
def test_models_reading_other_repositories_are_not_prefetched_and_stay_online(
    args: list[str],
) -> None:
    cfg, m, plan = stack(model=1, extraArgs=args, environment="development")
    spec = pod(workload(cfg, m, plan))
    assert [c["name"] for c in spec["initContainers"]] == ["allowlist"]  # no fetch-weights
    assert "HF_HUB_OFFLINE" not in env_of(spec["containers"][0])
    assert not prefetches_weights(m)


class _Hub(types.ModuleType):
    def __init__(self, files: list[str]) -> None:
        super().__init__("huggingface_hub")
        self.files = files
        self.calls: list[dict[str, Any]] = []
        hub = self

        class HfApi:
            def list_repo_files(self, repo: str, revision: str) -> list[str]:
                hub.calls.append({"list": repo, "revision": revision})
                return hub.files

        self.HfApi = HfApi

    def snapshot_download(self, repo: str, **kw: Any) -> str:
        self.calls.append({"repo": repo, **kw})
        return "/cache/snap"


def run_fetch_script(
    files: list[str],
    monkeypatch: pytest.MonkeyPatch,
    *,
    transfer: bool,
    hf_home: Path | None = None,
    hub: _Hub | None = None,
) -> _Hub:
    hub = hub or _Hub(files)
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub)
    if hf_home is not None:
        monkeypatch.setenv("HF_HOME", str(hf_home))
    else:
        monkeypatch.setenv("HF_HOME", str(Path(tempfile.mkdtemp())))
    monkeypatch.setenv("MODEL_ID", "org/model")
    monkeypatch.setenv("MODEL_REVISION", "a" * 40)
    monkeypatch.delenv("HF_HUB_ENABLE_HF_TRANSFER", raising=False)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: (
            (object() if transfer else None) if name == "hf_transfer" else real(name, *a)
        ),
    )
    exec(compile(FETCH_SCRIPT, "fetch", "exec"), {"__name__": "__main__"})
    return hub


class _HubDown(_Hub):
    """The Hub unreachable: listing fails, as huggingface_hub raises without a network."""

    def __init__(self) -> None:
        super().__init__([])
        hub = self

        class HfApi:
            def list_repo_files(self, repo: str, revision: str) -> list[str]:
                hub.calls.append({"list": repo, "revision": revision})
                raise ConnectionError("huggingface.co unreachable")

        self.HfApi = HfApi  # type: ignore[assignment]

    def snapshot_download(self, repo: str, **kw: Any) -> str:
        raise ConnectionError("huggingface.co unreachable")


def test_a_warm_restart_asks_the_hub_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = run_fetch_script(["model.safetensors"], monkeypatch, transfer=False, hf_home=tmp_path)
    assert [c for c in first.calls if "repo" in c]  # downloaded, then marked done
    assert list((tmp_path / "vllm-platform-fetched").iterdir())
    down = _HubDown()
    run_fetch_script([], monkeypatch, transfer=False, hf_home=tmp_path, hub=down)
    assert down.calls == []


def test_each_adapter_is_fetched_at_its_revision_into_its_own_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    adapters = [{"repo": "org/sql-lora", "revision": "b" * 40, "path": "/cache/lora/sql/x"}]
    monkeypatch.setenv("LORA_ADAPTERS", json.dumps(adapters))
    hub = run_fetch_script(["adapter_model.safetensors"], monkeypatch, transfer=False)
    model, adapter = [c for c in hub.calls if "repo" in c]
    assert model["repo"] == "org/model" and model["local_dir"] is None
    assert adapter["repo"] == "org/sql-lora" and adapter["revision"] == "b" * 40
    assert adapter["local_dir"] == "/cache/lora/sql/x"
    again = _HubDown()  # both marked done: a restart asks the Hub nothing
    hf_home = Path(os.environ["HF_HOME"])
    run_fetch_script([], monkeypatch, transfer=False, hf_home=hf_home, hub=again)
    assert again.calls == []


def test_a_branch_revision_is_asked_for_again_at_every_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """development may serve `revision: main`: a marker would freeze it at the first fetch."""
    monkeypatch.setenv("MODEL_REVISION", "main")
    hub = _Hub(["model.safetensors"])
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("MODEL_ID", "org/model")
    for _ in range(2):
        exec(compile(FETCH_SCRIPT, "fetch", "exec"), {"__name__": "__main__"})
    assert len([c for c in hub.calls if "repo" in c]) == 2
    assert not (tmp_path / "vllm-platform-fetched").exists()


def test_an_unfinished_download_is_not_marked_done(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ConnectionError):
        run_fetch_script([], monkeypatch, transfer=False, hf_home=tmp_path, hub=_HubDown())
    assert not (tmp_path / "vllm-platform-fetched").exists()


def test_fetch_script_downloads_the_revision_in_the_format_vllm_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = [
        "config.json",
        "model-00001-of-00002.safetensors",
        "pytorch_model.bin",
        "original/consolidated.00.pth",
    ]
    hub = run_fetch_script(files, monkeypatch, transfer=False)
    (download,) = [c for c in hub.calls if "repo" in c]
    assert download["repo"] == "org/model" and download["revision"] == "a" * 40
    ignored = download["ignore_patterns"]
    assert {"original/**/*", "*.bin", "*.pt"} <= set(ignored)
    assert "*.safetensors" not in ignored
    assert "HF_HUB_ENABLE_HF_TRANSFER" not in os.environ


def test_fetch_script_falls_back_to_bin_and_uses_hf_transfer_when_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = run_fetch_script(["config.json", "pytorch_model.bin"], monkeypatch, transfer=True)
    (download,) = [c for c in hub.calls if "repo" in c]
    assert "*.bin" not in download["ignore_patterns"]
    assert "*.safetensors" in download["ignore_patterns"]
    assert os.environ["HF_HUB_ENABLE_HF_TRANSFER"] == "1"


def test_rollout_waits_cover_the_download_the_startup_budget_and_the_margin() -> None:
    # 70B: 70.6B x 2 bytes = 141.2 GB at min(Hub 500, volume 350) MB/s = 403.4 s, x3 = 1211
    cfg, m, _ = stack()
    create, update = rollout_timeouts(cfg, m)
    assert download_budget_seconds(cfg.timing, m) == 1211
    assert create == 1211 + startup_budget_seconds(m) + ROLLOUT_MARGIN_SECONDS
    assert update == m.replicas * create
    slow = cfg.model_copy(update={"timing": TimingConfig(download_mb_per_s=10)})
    assert rollout_timeouts(slow, m)[0] - create == 42360 - 1211


def test_startup_timeout_is_documented_as_load_and_compile_only() -> None:
    from components.config import ModelConfig

    desc = ModelConfig.model_fields["startup_timeout_minutes"].description or ""
    assert "download" in desc and "load" in desc


# ------------------------------------------------------------------------------- pre-puller


def test_prepuller_pulls_each_distinct_gpu_image_on_every_gpu_node() -> None:
    cfg, _, _ = stack()
    ds = image_prepuller(cfg)
    assert ds is not None
    assert ds["metadata"] == ds["metadata"] | {
        "name": PREPULLER_NAME,
        "namespace": cfg.namespace_name,
    }
    spec = pod(ds)
    images = sorted({m.image for m in cfg.models})
    assert [c["image"] for c in spec["initContainers"]] == images
    assert {c["command"][0] for c in spec["initContainers"]} == {"/bin/true"}
    assert spec["nodeSelector"] == dict(cfg.cluster.gpu.node_labels)
    assert {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    (pause,) = spec["containers"]
    assert pause["image"] == PAUSE_IMAGE and "@sha256:" in PAUSE_IMAGE
    for c in [*spec["initContainers"], pause]:
        assert GPU_RESOURCE not in c["resources"]["requests"]
        assert c["resources"]["requests"] == {"cpu": "10m", "memory": "16Mi"}
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"]
        assert sc["capabilities"] == {"drop": ["ALL"]} and sc["allowPrivilegeEscalation"] is False
    for c in spec["initContainers"]:
        assert env_of(c)["NVIDIA_VISIBLE_DEVICES"] == "void"


def test_prepuller_deduplicates_images_and_skips_cpu_models() -> None:
    cfg, _, _ = stack(model=2, image="vllm/vllm-openai:v0.32.0@sha256:" + "1" * 64)
    ds = image_prepuller(cfg)
    assert ds is not None
    assert [c["image"] for c in pod(ds)["initContainers"]] == list(
        dict.fromkeys(m.image for m in cfg.models)
    )
    assert len(pod(ds)["initContainers"]) == 2
    off = cfg.model_copy(update={"timing": TimingConfig(pre_pull_images=False)})
    assert image_prepuller(off) is None


def test_two_stacks_on_one_cluster_get_their_own_prepuller() -> None:
    dev, _, _ = stack("Pulumi.development.yaml")
    staging, _, _ = stack("Pulumi.staging.yaml")
    a, b = image_prepuller(dev), image_prepuller(staging)
    assert a is not None and b is not None
    assert a["metadata"]["namespace"] != b["metadata"]["namespace"]


# ------------------------------------------------------------------------------- estimates


def test_size_classes() -> None:
    assert [size_class(p) for p in (7.6, 14.9, 15, 39.9, 40, 70.6)] == [
        "small",
        "small",
        "medium",
        "medium",
        "large",
        "large",
    ]


def test_estimates_for_the_70b_by_hand() -> None:
    cfg, m, _ = stack()  # 70B, a 141.2 GB bf16 checkpoint, TP 2, 2 replicas, per-replica cache
    t = estimate_model(cfg.timing, m)
    # download 141.2 GB at min(Hub 500, volume write 350) MB/s = 403.4 s; both ranks read the
    # whole checkpoint: 282.4 GB at the volume's 350 MB/s = 806.9 s; pull 10 GB / 50 = 200 s
    assert (round(t.download, 1), round(t.load, 1), t.image_pull) == (403.4, 806.9, 200)
    assert t.cold_start == pytest.approx(30 + 200 + 403.43 + 806.86 + 240, abs=0.01)  # 28.0 min
    assert t.warm_restart == pytest.approx(30 + 806.86 + 75, abs=0.01)  # 15.2 min
    assert t.rollback == 2 * t.warm_restart  # one pod at a time, images pre-pulled
    assert t.startup_probe_covers == t.load + 240  # the download is in the init container


def test_without_a_persistent_cache_or_the_prepuller_restarts_are_cold() -> None:
    cfg, m, _ = stack(model=1, weightCache={"mode": "none"})  # 8B bf16: 16 GB
    t = estimate_model(cfg.timing, m)
    # download + load (16 GB at 350 MB/s each) + cold compile again
    assert t.warm_restart == pytest.approx(30 + 45.71 + 45.71 + 110, abs=0.01)
    no_pull = estimate_model(TimingConfig(pre_pull_images=False), m)
    assert no_pull.rollback_per_pod == no_pull.warm_restart + 200


def test_warnings_for_a_short_startup_budget_and_a_missed_rollback_target() -> None:
    cfg, m, _ = stack(startupTimeoutMinutes=5)
    text = "\n".join(timing_warnings(m, estimate_model(cfg.timing, m)))
    assert "startupTimeoutMinutes 5 is below the estimated load + compile (17.4 min)" in text
    assert "estimated rollback 30.4 min (2 x 15.2 min) misses the 5.0 min target (SC-004)" in text
    _, small, _ = stack(model=1)
    assert timing_warnings(small, estimate_model(cfg.timing, small)) == []


def test_without_prefetch_the_startup_budget_must_cover_the_download_too() -> None:
    cfg, m, _ = stack(
        environment="development",  # staging and production refuse what is not prefetched
        startupTimeoutMinutes=20,
        extraArgs=[
            "--quantization",
            "fp8",
            "--kv-cache-dtype",
            "fp8",
            "--load-format",
            "safetensors",
        ],
    )
    t = estimate_model(cfg.timing, m)
    assert t.startup_probe_covers == t.download + t.load + 240
    text = "\n".join(timing_warnings(m, t))
    assert "below the estimated download + load + compile (24.2 min)" in text
    assert "the weights are not prefetched" in text
    cfg, m, _ = stack(model=1, weightCache={"mode": "none"}, replicas=3, max_nodes=9)
    text = "\n".join(timing_warnings(m, estimate_model(cfg.timing, m)))
    assert "weightCache.mode none keeps nothing across pods" in text


def test_ops_plan_prints_the_time_to_ready_section(capsys: pytest.CaptureFixture[str]) -> None:
    from ops.__main__ import main

    assert main(["plan", "--stack", "production"]) == 0
    out = capsys.readouterr().out
    assert (
        "Time to ready (estimate, minutes; ! = over a GPU model's target: cold start 10.0 "
        "SC-001, rollback 5.0 SC-004" in out
    )
    row = next(
        line for line in out.splitlines() if line.strip().startswith("llama-3-3-70b-instruct  141")
    )
    assert row.split()[1:7] == ["141", "282", "28.0", "!", "15.2", "30.4"]
    assert "not a second revision" not in out  # the default 290 Gi holds two 131.5 GiB ones
    # One table of models, one time-to-ready table, then one list of cautions (issue 16/17).
    assert out.count("Cautions:") == 1 and "cautions:" not in out
    cautions = out[out.index("Cautions:") :]
    assert "estimated rollback 30.4 min (2 x 15.2 min) misses the 5.0 min target" in cautions


# ---------------------------------------------------------------------------------- config


def test_timing_keys_are_validated_at_their_key_path() -> None:
    from components.config import ConfigError, load_stack_config
    from components.config.source import read_stack_file

    raw, secrets = read_stack_file(ROOT / "Pulumi.production.yaml")
    raw = {**raw, "timing": {"downloadMbPerS": 0, "coldCompileSeconds": {"huge": 1}}}
    with pytest.raises(ConfigError) as info:
        load_stack_config(raw, secrets)
    text = "\n".join(str(i) for i in info.value.issues)
    assert "timing.downloadMbPerS" in text
    assert "timing.coldCompileSeconds.huge" in text


def test_one_size_class_can_be_set_alone() -> None:
    t = TimingConfig.model_validate({"coldCompileSeconds": {"large": 300}})
    assert (t.cold_compile_seconds.small, t.cold_compile_seconds.large) == (110, 300)
    assert t.warm_compile_seconds.large == 75


def test_a_cpu_model_is_not_held_to_the_gpu_fleets_targets() -> None:
    """The local example's 0.5B CPU model rolls back in ~5.6 min on the default assumptions
    (the image pulled again: nothing pre-pulls for CPU nodes): shown, but no SC-004 caution (a
    laptop trial), while the same model on a GPU without a pre-puller gets one."""
    from components.config import load_stack_config
    from components.config.source import read_stack_file
    from components.planning.timing import estimate_model, timing_warnings

    raw, secrets = read_stack_file(ROOT / "examples" / "Pulumi.local.yaml")
    model = load_stack_config(raw, secrets).config.models[0]
    timing = TimingConfig.model_validate({"prePullImages": False})
    t = estimate_model(timing, model)
    assert t.rollback > 5 * 60
    assert not any("SC-004" in w for w in timing_warnings(model, t))
    on_gpu = model.model_copy(update={"accelerator": "gpu"})
    warnings = timing_warnings(on_gpu, estimate_model(timing, on_gpu))
    assert any("SC-004" in w for w in warnings)
