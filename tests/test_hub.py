"""``kgsynth push`` against a loopback Hub (tests/hub_server.py), and the dataset read back with
``datasets.load_dataset`` through the same server. The client side is the real ``huggingface_hub`` and
``datasets``, run in subprocesses because both read ``HF_ENDPOINT`` when they are imported."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.hub_server import HubServer
from tests.test_card import default_export, front_matter  # noqa: F401  (a module fixture shared with the card tests)

TOKEN = "hf_loopbackSECRETtoken0123456789"

READ_BACK = """
import json, sys
import datasets
datasets.disable_progress_bars()
repo, out = sys.argv[1], sys.argv[2]
rows = {}
for config in sys.argv[3:]:
    loaded = datasets.load_dataset(repo, config)
    rows[config] = {split: loaded[split].to_list() for split in loaded}
from huggingface_hub import HfApi
card = HfApi().dataset_info(repo).card_data.to_dict()
with open(out, "w") as fh:
    json.dump({"rows": rows, "card": card}, fh)
"""


def hub_env(hub: HubServer, home: Path, *, token: str | None = TOKEN) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    # Xet is left on (hf_xet is installed): push finds out from the server whether it offers Xet storage. One
    # attempt per Xet request, so that a Xet upload to a storage that is not there fails in a second, not minutes.
    env.update(HF_ENDPOINT=hub.base_url, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1",
               HF_XET_CLIENT_RETRY_MAX_ATTEMPTS="1")  # fmt: skip
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def push(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kgsynth.cli", "push", *args], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def local_rows(directory: Path, config: str) -> dict[str, list[dict]]:
    return {f.name.split("-")[0]: pq.read_table(f).to_pylist() for f in sorted((directory / "data" / config).iterdir())}


def files_mentioning(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


@pytest.mark.slow
def test_push_every_config_in_one_commit_and_read_it_back(
    default_export: tuple[Path, Path],  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    _, out = default_export
    with HubServer(token=TOKEN) as hub:
        env = hub_env(hub, tmp_path / "hf-home")
        pushed = push(env, str(out), "--repo", "kgsynth-org/med-qa")
        assert pushed.returncode == 0, pushed.stderr
        expected = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
        assert f"pushed {len(expected)} files to kgsynth-org/med-qa" in " ".join(pushed.stdout.split())
        # one commit holding every file, byte for byte: configs, card, figure, config file, licence file
        (commit,) = hub.commits("kgsynth-org/med-qa")
        assert sorted(commit.files) == expected
        assert {"README.md", "kgsynth_config.json", "export_summary.json", "rarity_hops.png", "LICENSE.md"} <= set(
            commit.files
        )
        for f in expected:
            assert commit.files[f] == (out / f).read_bytes(), f
        # the binary files went through LFS (uploaded, checked against their SHA-256), the text ones inline
        lfs = hub.repos[("dataset", "kgsynth-org/med-qa")].lfs_paths
        assert lfs == {f for f in expected if f.endswith((".parquet", ".png"))} and "README.md" not in lfs
        assert "/xet-write-token/" in hub.log_text() and "(large files through LFS)" in pushed.stdout
        assert hub.authorized_writes >= 3  # create, preupload, commit: the token was sent where it belongs

        args = [
            sys.executable,
            "-c",
            READ_BACK,
            "kgsynth-org/med-qa",
            str(tmp_path / "rows.json"),
            "sft",
            "grpo",
            "items",
        ]
        read = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        assert read.returncode == 0, read.stderr
        back = json.loads((tmp_path / "rows.json").read_text())
        for config in ("sft", "grpo", "items"):
            assert back["rows"][config] == local_rows(out, config), config
            assert sum(len(v) for v in back["rows"][config].values()) > 0
        # the Hub reads the pushed card's metadata: the true licence line (several licences: other, with the list)
        assert back["card"]["license"] == "other" == front_matter(out / "README.md")["license"]
        assert back["card"]["license_link"] == "LICENSE.md" and "CC0 1.0" in back["card"]["license_details"]
        # the token never leaves the Authorization header: not in the bodies, the output, or any file
        log = hub.log_text()
        assert "/preupload/" in log and "/commit/" in log and "/resolve/" in log
        assert TOKEN not in log
        for stream in (pushed.stdout, pushed.stderr, read.stdout, read.stderr):
            assert TOKEN not in stream
        assert files_mentioning(tmp_path, TOKEN) == []
        assert files_mentioning(out, TOKEN) == []


def tiny_export(directory: Path) -> Path:
    """The smallest folder push accepts (a card, the config file, one config's parquet)."""
    (directory / "data" / "grpo").mkdir(parents=True)
    pq.write_table(pa.table({"id": ["a", "b"], "answer_letter": ["A", "C"]}),
                   directory / "data" / "grpo" / "train-00000-of-00001.parquet")  # fmt: skip
    (directory / "README.md").write_text("---\nlicense: cc0-1.0\n---\n# tiny\n")
    (directory / "kgsynth_config.json").write_text("{}\n")
    return directory


def test_push_private_and_the_errors_a_user_can_act_on(tmp_path: Path) -> None:
    data = tiny_export(tmp_path / "tiny")
    with HubServer(token=TOKEN) as hub:
        env = hub_env(hub, tmp_path / "hf-home")
        # verbose, with huggingface_hub's own request dump on: still no token in what is printed
        args = [sys.executable, "-m", "kgsynth.cli", "-v", "push", str(data), "--repo", "org/private-one", "--private"]
        ok = subprocess.run(args, env={**env, "HF_DEBUG": "1"}, capture_output=True, text=True, timeout=300)
        assert ok.returncode == 0, ok.stderr
        assert "/commit/main" in ok.stderr and TOKEN not in ok.stdout + ok.stderr
        assert hub.repos[("dataset", "org/private-one")].private
        with pytest.raises(urllib.error.HTTPError) as anonymous:
            urllib.request.urlopen(f"{hub.base_url}/api/datasets/org/private-one", timeout=10)
        assert anonymous.value.code == 404
        # the repo exists: pushing the same files again is no error and no empty commit; a changed card is one more
        again = push(env, str(data), "--repo", "org/private-one")
        assert again.returncode == 0 and "already holds these 3 files" in again.stdout
        assert len(hub.commits("org/private-one")) == 1
        (data / "README.md").write_text("---\nlicense: cc0-1.0\n---\n# tiny, again\n")
        assert push(env, str(data), "--repo", "org/private-one").returncode == 0
        first, second = hub.commits("org/private-one")
        assert sorted(first.files) == sorted(second.files) and second.files["README.md"].endswith(b"# tiny, again\n")

        assert push(env, str(data), "--repo", "org/public-one").returncode == 0
        failures = {
            "private asked, public exists": (push(env, str(data), "--repo", "org/public-one", "--private"),
                                             "org/public-one already exists and is public; nothing was pushed"),
            "no token": (push(hub_env(hub, tmp_path / "empty-home", token=None), str(data), "--repo", "org/x"),
                         "no Hugging Face token found"),
            "wrong token": (push(hub_env(hub, tmp_path / "hf-home", token="hf_wrongWRONGwrong"), str(data), "--repo",
                                 "org/x"), "the Hub refused the push to org/x"),
            "not an export": (push(env, str(data / "data"), "--repo", "org/x"), "is not an exported dataset"),
            "no folder": (push(env, str(tmp_path / "nowhere"), "--repo", "org/x"), "no such folder"),
            "bad repo id": (push(env, str(data), "--repo", "just-a-name"), "expected ORG/NAME"),
        }  # fmt: skip
        for what, (proc, message) in failures.items():
            assert proc.returncode == 2, (what, proc.stderr)
            assert message in " ".join(proc.stderr.split()) and "Traceback" not in proc.stderr, (what, proc.stderr)
            assert "hf_wrongWRONGwrong" not in proc.stderr + proc.stdout and TOKEN not in proc.stderr + proc.stdout
        assert ("dataset", "org/x") not in hub.repos and len(hub.commits("org/public-one")) == 1
        assert TOKEN not in hub.log_text() and "hf_wrongWRONGwrong" not in hub.log_text()


def card_with_configs(*configs: str) -> str:
    """A card whose front matter names its configs, as an export's does (what `load_dataset(repo, config)` reads)."""
    lines = ["---", "license: cc0-1.0", "configs:"]
    for config in configs:
        lines += [f"- config_name: {config}", "  data_files:", "  - split: train", f"    path: data/{config}/train-*"]
    return "\n".join([*lines, "---", "# tiny", ""])


def two_config_export(directory: Path) -> Path:
    """A tiny export with two configs."""
    tiny_export(directory)
    (directory / "data" / "sft").mkdir()
    pq.write_table(pa.table({"id": ["s1"], "messages": ["hello"]}),
                   directory / "data" / "sft" / "train-00000-of-00001.parquet")  # fmt: skip
    (directory / "README.md").write_text(card_with_configs("grpo", "sft"))
    return directory


def read_back(env: dict[str, str], repo: str, out: Path, *configs: str) -> dict:
    args = [sys.executable, "-c", READ_BACK, repo, str(out), *configs]
    read = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert read.returncode == 0, read.stderr
    return json.loads(out.read_text())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket is closed


@pytest.mark.parametrize("path", ["lfs", "xet-offered", "xet-disabled"])
def test_every_upload_path_reads_back_with_datasets(tmp_path: Path, path: str) -> None:
    """LFS: the server offers no Xet (as a Hub-compatible server without it); xet-offered: the server hands out
    a Xet token for a storage that does not answer, so the Xet upload fails and the push goes through LFS;
    xet-disabled: HF_HUB_DISABLE_XET=1. Every path ends in one commit that `datasets` reads back."""
    data = two_config_export(tmp_path / "tiny")
    cas = f"http://127.0.0.1:{closed_port()}" if path == "xet-offered" else None
    with HubServer(token=TOKEN, xet_cas_url=cas) as hub:
        env = hub_env(hub, tmp_path / "hf-home")
        if path == "xet-disabled":
            env["HF_HUB_DISABLE_XET"] = "1"
        pushed = push(env, str(data), "--repo", "org/paths")
        assert pushed.returncode == 0, pushed.stderr
        assert "Traceback" not in pushed.stderr and "(large files through LFS)" in pushed.stdout
        if path == "xet-offered":
            assert "the Xet upload to org/paths failed" in pushed.stderr
            assert "uploading through LFS instead" in pushed.stderr
        (commit,) = hub.commits("org/paths")
        parquets = {"data/grpo/train-00000-of-00001.parquet", "data/sft/train-00000-of-00001.parquet"}
        assert hub.repos[("dataset", "org/paths")].lfs_paths == parquets
        assert sorted(commit.files) == sorted(p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file())
        back = read_back(env, "org/paths", tmp_path / "rows.json", "grpo", "sft")
        assert back["rows"]["grpo"] == local_rows(data, "grpo") and back["rows"]["sft"] == local_rows(data, "sft")


def test_a_re_push_deletes_what_the_new_export_no_longer_has(tmp_path: Path) -> None:
    data = two_config_export(tmp_path / "tiny")
    with HubServer(token=TOKEN) as hub:
        env = hub_env(hub, tmp_path / "hf-home")
        assert push(env, str(data), "--repo", "org/stale").returncode == 0
        # the next export has no sft config and another grpo shard: the old files must not stay beside it
        shutil.rmtree(data / "data" / "sft")
        (data / "data" / "grpo" / "train-00000-of-00001.parquet").unlink()
        (data / "README.md").write_text(card_with_configs("grpo"))
        pq.write_table(pa.table({"id": ["c"], "answer_letter": ["B"]}),
                       data / "data" / "grpo" / "train-00000-of-00002.parquet")  # fmt: skip
        again = push(env, str(data), "--repo", "org/stale")
        assert again.returncode == 0, again.stderr
        said = " ".join(again.stdout.split())
        assert "deleted 2 files the export no longer has" in said and "data/sft/train-00000-of-00001.parquet" in said
        first, second = hub.commits("org/stale")
        assert "data/sft/train-00000-of-00001.parquet" in first.files
        assert sorted(second.files) == sorted(p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file())
        back = read_back(env, "org/stale", tmp_path / "rows.json", "grpo")
        assert back["rows"]["grpo"] == {"train": [{"id": "c", "answer_letter": "B"}]}


def test_an_unreachable_or_offline_hub_is_one_line(tmp_path: Path) -> None:
    data = tiny_export(tmp_path / "tiny")
    before = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    base.update(HF_HOME=str(tmp_path / "hf-home"), HF_TOKEN=TOKEN)
    unreachable = f"http://127.0.0.1:{closed_port()}"
    cases = {
        "refused": ({**base, "HF_ENDPOINT": unreachable}, f"cannot reach the Hub at {unreachable}"),
        "offline": ({**base, "HF_HUB_OFFLINE": "1"}, "HF_HUB_OFFLINE is set: kgsynth push needs the Hub"),
    }
    for what, (env, message) in cases.items():
        proc = push(env, str(data), "--repo", "org/x")
        assert proc.returncode == 2, (what, proc.stderr)
        lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and message in lines[0], (what, proc.stderr)
        assert "Traceback" not in proc.stderr and TOKEN not in proc.stderr + proc.stdout
    assert {p: p.read_bytes() for p in data.rglob("*") if p.is_file()} == before
