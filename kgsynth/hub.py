"""``kgsynth push``: an exported dataset folder to a Hugging Face Hub dataset repository, in one commit.

Every file of the folder (``data/<config>/<split>-*.parquet`` of every config, ``README.md`` -- the card --,
``kgsynth_config.json``, ``export_summary.json``, the card's figure and ``LICENSE.md`` when there is one) is
added by one ``create_commit``, so readers never see a half-pushed dataset. The token is what
``huggingface_hub`` finds as usual (``HF_TOKEN``, or a saved login); kgsynth never prints or logs it, and
``HF_ENDPOINT`` points the client at another Hub.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from kgsynth.card import CONFIG_FILE, find_configs
from kgsynth.errors import KgsynthError

logger = logging.getLogger(__name__)

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


@dataclass(frozen=True)
class PushResult:
    """What a push committed, and where."""

    repo_id: str
    url: str
    commit: str
    files: tuple[str, ...]
    changed: bool  # False when the repo already held exactly these files (no commit was made)


def files_to_push(directory: Path) -> list[str]:
    """The folder's files, relative and sorted (hidden files and temporary ``.tmp`` files left out), after
    checking it is an exported dataset: a card, the configuration file and at least one config's parquet."""
    if not directory.is_dir():
        raise KgsynthError(f"{directory}: no such folder", hint="give the --out folder of `kgsynth export`")
    missing = [name for name in ("README.md", CONFIG_FILE) if not (directory / name).is_file()]
    if missing or not find_configs(directory):
        what = ", ".join(missing + ([] if find_configs(directory) else ["data/<config>/<split>-*.parquet"]))
        raise KgsynthError(f"{directory} is not an exported dataset: it lacks {what}",
                           hint="export a run first: kgsynth export RUN --out DIR")  # fmt: skip
    return sorted(
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
        and not p.name.endswith(".tmp")
    )


def push_dataset(directory: Path, *, repo_id: str, private: bool = False) -> PushResult:
    """Create (or reuse) the dataset repo ``repo_id`` and commit every file of ``directory`` to it at once.

    Raises :class:`KgsynthError` for a folder that is not an exported dataset, a malformed repo id, a
    missing token or an error the Hub answers (its message, never the token).
    """
    if not _REPO_ID.match(repo_id):
        raise KgsynthError(f"--repo {repo_id!r}: expected ORG/NAME", hint="e.g. --repo my-org/kgsynth-med")
    files = files_to_push(directory)
    import huggingface_hub
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    if not huggingface_hub.get_token():
        raise KgsynthError("no Hugging Face token found", hint="set HF_TOKEN (a write token), or run `hf auth login`")
    api = HfApi()
    operations = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(directory / f)) for f in files]
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        before = api.repo_info(repo_id, repo_type="dataset")
        if private and not before.private:
            # create_repo leaves an existing repo's visibility alone: never publish what was asked to be private
            raise KgsynthError(f"{repo_id} already exists and is public; nothing was pushed",
                               hint="make it private on the Hub first, or push to a new repo")  # fmt: skip
        info = api.create_commit(
            repo_id,
            repo_type="dataset",
            operations=operations,
            commit_message=f"kgsynth push: {len(files)} files ({', '.join(find_configs(directory))})",
        )
    except HfHubHTTPError as exc:
        # The Hub's own message (status, reason); requests and headers (the token) are not in it.
        raise KgsynthError(f"the Hub refused the push to {repo_id}: {exc}".splitlines()[0],
                           hint="check that the token can write to that organisation") from None  # fmt: skip
    changed = info.oid != before.sha
    logger.info(
        "pushed %d files to %s at %s (%s)", len(files), repo_id, info.oid, "new commit" if changed else "unchanged"
    )
    return PushResult(repo_id=repo_id, url=info.commit_url, commit=info.oid, files=tuple(files), changed=changed)
