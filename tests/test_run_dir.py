"""The run directory as a journal: whatever is unexpected in it is refused with a message, and nothing is lost.

Each case copies one finished run, damages the copy the way a user or a crash might, runs the same
`kgsynth generate` command into it, and checks the exit code, the message, and that every byte in the
folder is what it was before the command ran (nothing deleted, truncated or padded).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kgsynth.graph.model import Graph
from kgsynth.run.layout import CARD, FIGURE, LICENCE, OLD_HF, RUN_CONFIG, SUMMARY

pytestmark = pytest.mark.slow

N = 600
ARGS = ["generate", "--n", str(N), "--hops", "3", "--seed", "9", "--no-compare-uniform"]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def kgsynth(args: list[str], cache: Path, **popen: object) -> subprocess.Popen:
    env = {**os.environ, "KGSYNTH_CACHE_DIR": str(cache)}
    return subprocess.Popen([sys.executable, "-m", "kgsynth", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)  # type: ignore[call-overload]  # fmt: skip


def run(args: list[str], cache: Path, **popen: object) -> tuple[int, str]:
    proc = kgsynth(args, cache, **popen)
    _, err = proc.communicate(timeout=600)
    return proc.returncode, " ".join(err.split())


@pytest.fixture(scope="module")
def finished(real_graph: Graph, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of ARGS, undisturbed."""
    out = tmp_path_factory.mktemp("finished") / "run"
    code, err = run([*ARGS, "--out", str(out)], cache_dir)
    assert code == 0, err
    return out


def damaged_copy(finished: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    return out


def shard(out: Path) -> Path:
    return out / "jsonl" / "items-00000.jsonl"


def stray_file(out: Path) -> None:
    (out / "jsonl" / "items-00000-old.jsonl").write_bytes(shard(out).read_bytes()[:5000])


def short_shard(out: Path) -> None:
    data = shard(out).read_bytes()
    shard(out).write_bytes(data[: len(data) - 1000])


def edited_shard(out: Path) -> None:
    data = bytearray(shard(out).read_bytes())
    data[100] = ord("X") if data[100] != ord("X") else ord("Y")
    shard(out).write_bytes(bytes(data))


def empty_progress(out: Path) -> None:
    (out / "progress.json").write_bytes(b"")


def corrupt_progress(out: Path) -> None:
    (out / "progress.json").write_bytes(b'{"accepted": 600, "shards": [')


def unknown_file(out: Path) -> None:
    (out / "notes.txt").write_text("mine\n")


def missing_progress(out: Path) -> None:
    (out / "progress.json").unlink()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (stray_file, "items-00000-old.jsonl is not a file of this run"),
        (short_shard, "but progress.json records"),
        (edited_shard, "was changed after it was committed"),
        (empty_progress, "progress.json is empty"),
        (corrupt_progress, "progress.json is not a commit record"),
        (unknown_file, "holds files that are not part of a kgsynth run: notes.txt"),
        (missing_progress, "holds shards but no progress.json"),
    ],
)
def test_unexpected_content_is_refused_and_left_as_it_is(
    finished: Path, cache_dir: Path, tmp_path: Path, damage, message: str
) -> None:
    out = damaged_copy(finished, tmp_path)
    damage(out)
    before = snapshot(out)
    code, err = run([*ARGS, "--out", str(out)], cache_dir)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert snapshot(out) == before


def test_smaller_n_than_the_run_holds_is_refused(finished: Path, cache_dir: Path, tmp_path: Path) -> None:
    out = damaged_copy(finished, tmp_path)
    before = snapshot(out)
    code, err = run([*ARGS, "--n", "100", "--out", str(out)], cache_dir)
    assert code == 2
    assert f"already holds {N} items, more than --n 100" in err and f"use --n {N} or more" in err
    assert snapshot(out) == before


def test_out_that_is_a_file_is_refused(cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "a-file"
    out.write_text("keep me\n")
    code, err = run([*ARGS, "--out", str(out)], cache_dir)
    assert code == 2 and "is a file, not a folder" in err and "Traceback" not in err
    assert out.read_text() == "keep me\n"


def make_read_only(folder: Path) -> Callable[[], None]:
    """Make ``folder`` unwritable (for root too: the immutable attribute); return the undo."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a folder read-only for root here (chattr +i failed)")
    return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_read_only_out_is_refused(finished: Path, cache_dir: Path, tmp_path: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    undo = make_read_only(parent)
    try:
        code, err = run([*ARGS, "--out", str(parent / "run")], cache_dir)
    finally:
        undo()
    assert code == 2 and f"cannot write {parent / 'run'}" in err and "choose a folder you may write" in err
    assert "Traceback" not in err and not (parent / "run").exists()
    # a finished run in a folder that became read-only: the rerun cannot commit, says so, changes nothing
    out = damaged_copy(finished, tmp_path)
    before = snapshot(out)
    undo = make_read_only(out)
    try:
        code, err = run([*ARGS, "--out", str(out)], cache_dir)
    finally:
        undo()
    assert code == 2 and "cannot write" in err and "Traceback" not in err
    assert snapshot(out) == before


def file_size_limit(limit: int):
    """A per-file size limit (RLIMIT_FSIZE): writes beyond it fail with EFBIG, as writes to a full disk
    fail with ENOSPC (a real full disk needs a mount this test cannot make)."""

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limited


def test_disk_full_while_writing_shards(finished: Path, cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert shard(finished).stat().st_size > 1_500_000
    code, err = run([*ARGS, "--out", str(out)], cache_dir, preexec_fn=file_size_limit(1_500_000))
    assert code == 2, err
    assert "cannot write" in err and "full" in err and "Traceback" not in err
    assert 0 < json.loads((out / "progress.json").read_text())["accepted"] < N  # some batches were committed
    code, err = run([*ARGS, "--out", str(out)], cache_dir)
    assert code == 0, err
    assert snapshot(out) == snapshot(finished)


def test_disk_full_after_the_last_commit_leaves_no_scratch(finished: Path, cache_dir: Path, tmp_path: Path) -> None:
    out = damaged_copy(finished, tmp_path)
    after = [p for p in (SUMMARY, CARD, FIGURE, LICENCE, RUN_CONFIG) if (out / p).exists()]
    for name in after:  # killed after the last commit, before the summary, the card and the config
        (out / name).unlink()
    limit = max((finished / name).stat().st_size for name in after) // 2
    code, err = run([*ARGS, "--out", str(out)], cache_dir, preexec_fn=file_size_limit(limit))
    assert code == 2, err
    assert "cannot write" in err and "full" in err and "Traceback" not in err
    assert not [p.name for p in out.rglob("*.tmp")]
    code, err = run([*ARGS, "--out", str(out)], cache_dir)
    assert code == 0, err
    assert snapshot(out) == snapshot(finished)


def test_a_run_an_older_kgsynth_wrote_with_its_hf_view_resumes(finished: Path, cache_dir: Path, tmp_path: Path) -> None:
    out = damaged_copy(finished, tmp_path)
    (out / OLD_HF).mkdir()  # the dataset view `generate` wrote before the export became the one dataset door
    (out / OLD_HF / "dataset_info.json").write_text("{}")
    before = snapshot(out)
    code, err = run([*ARGS, "--out", str(out)], cache_dir)
    assert code == 0, err
    assert snapshot(out) == before  # accepted, left as it was, not written again


def test_a_second_run_into_a_busy_folder_is_refused(finished: Path, cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = kgsynth([*ARGS, "--out", str(out)], cache_dir)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            progress = out / "progress.json"
            if progress.exists() and json.loads(progress.read_text() or "{}").get("accepted", 0) >= 200:
                break
            assert first.poll() is None, "the first run ended early"
            time.sleep(0.02)
        first.send_signal(signal.SIGSTOP)  # hold it mid-run, holding its lock
        assert not (out / "summary.json").exists(), "the first run finished before the second started"
        during = snapshot(out)
        code, err = run([*ARGS, "--out", str(out)], cache_dir)
        assert code == 2 and "is in use by another kgsynth run" in err and "Traceback" not in err
        assert snapshot(out) == during
    finally:
        first.send_signal(signal.SIGCONT)
    _, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err
    assert snapshot(out) == snapshot(finished)  # every item written once, as an undisturbed run writes them
