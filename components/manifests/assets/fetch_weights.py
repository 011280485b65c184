import fnmatch, importlib.util, json, os, pathlib, time
if importlib.util.find_spec("hf_transfer"):
    os.environ.setdefault("HF_HUB_ENABLE_HF_TRANSFER", "1")
from huggingface_hub import HfApi, snapshot_download
marks = pathlib.Path(os.environ["HF_HOME"], "vllm-platform-fetched")
def fetch(repo: str, revision: str, local_dir: str | None = None) -> None:
    done = marks / (repo.replace("/", "--") + "@" + revision + ("@lora" if local_dir else ""))
    pinned = len(revision) == 40 and all(c in "0123456789abcdef" for c in revision)
    if pinned and done.exists():
        when = done.read_text().strip()
        print(f"{repo}@{revision} is on the volume (fetched {when}); no download")
        return
    top = [f for f in HfApi().list_repo_files(repo, revision=revision) if "/" not in f]
    formats = ["*.safetensors", "*.bin", "*.pt"]
    chosen = next((p for p in formats if fnmatch.filter(top, p)), None)
    ignore = ["original/**/*", "original/*", "*.pth", "*.gguf", "*.onnx", "*.onnx_data"]
    ignore += ["*.msgpack", "*.h5"]
    ignore += [p for p in formats if p != chosen]
    start = time.monotonic()
    path = snapshot_download(repo, revision=revision, ignore_patterns=ignore, local_dir=local_dir)
    if pinned:  # a branch or tag moves: ask the Hub again next time
        done.parent.mkdir(parents=True, exist_ok=True)
        done.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")
    print(f"fetched {repo}@{revision} ({chosen}) into {path} in {time.monotonic() - start:.0f} s")
fetch(os.environ["MODEL_ID"], os.environ["MODEL_REVISION"])
for adapter in json.loads(os.environ.get("LORA_ADAPTERS") or "[]"):
    fetch(adapter["repo"], adapter["revision"], adapter["path"])
