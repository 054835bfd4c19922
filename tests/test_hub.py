"""``kgsynth push`` against a loopback Hub (tests/hub_server.py), and the dataset read back with
``datasets.load_dataset`` through the same server. The client side is the real ``huggingface_hub`` and
``datasets``, run in subprocesses because both read ``HF_ENDPOINT`` when they are imported."""

from __future__ import annotations

import json
import os
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
    env.update(HF_ENDPOINT=hub.base_url, HF_HOME=str(home), HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_TELEMETRY="1")
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
