"""``kgsynth push``: an exported dataset folder to a Hugging Face Hub dataset repository, in one commit.

Every file of the folder (``data/<config>/<split>-*.parquet`` of every config, ``README.md`` -- the card --,
``kgsynth_config.json``, ``export_summary.json``, the card's figure and ``LICENSE.md`` when there is one) is
added by one ``create_commit``, so readers never see a half-pushed dataset; the same commit deletes what the
repository holds that the export does not (a split or config an earlier export had), so that ``load_dataset``
never mixes two exports. Large and binary files go through Xet storage where the Hub offers it (it answers
a Xet write token for the repository), else through LFS, and through LFS again when a Xet upload fails. The
token is what
``huggingface_hub`` finds as usual (``HF_TOKEN``, or a saved login); kgsynth never prints or logs it, and
``HF_ENDPOINT`` points the client at another Hub.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgsynth.errors import KgsynthError
from kgsynth.run.card import find_configs
from kgsynth.run.layout import CARD, EXPORT_RECORD

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
    deleted: tuple[str, ...] = ()  # files the repo held that the export does not: deleted by the commit
    xet: bool = False  # whether large and binary files went through Xet storage (else LFS)


def files_to_push(directory: Path) -> list[str]:
    """The folder's files, relative and sorted (hidden files and temporary ``.tmp`` files left out), after
    checking it is an exported dataset: a card, the configuration file and at least one config's parquet."""
    if not directory.is_dir():
        raise KgsynthError(f"{directory}: no such folder", hint="give the --out folder of `kgsynth export`")
    missing = [name for name in (CARD, EXPORT_RECORD) if not (directory / name).is_file()]
    if missing or not find_configs(directory):
        what = ", ".join(missing + ([] if find_configs(directory) else ["data/<config>/<split>-*.parquet"]))
        raise KgsynthError(f"{directory} is not an exported dataset: it lacks {what}",
                           hint="export a run first: kgsynth export RUN --out DIR")  # fmt: skip
    links = sorted(p for p in directory.rglob("*") if p.is_symlink())
    if links:  # a link would upload whatever it points at, anywhere on this machine
        raise KgsynthError(f"{links[0]} is a symbolic link; kgsynth push uploads only the export's own files",
                           hint="remove the link (or copy the file it points at into the folder)")  # fmt: skip
    return sorted(
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
        and not p.name.endswith(".tmp")
    )


def push_dataset(directory: Path, *, repo_id: str, private: bool = False) -> PushResult:
    """Create (or reuse) the dataset repo ``repo_id`` and make it hold exactly the files of ``directory``, in one
    commit: every file added, and every file the repository holds that the export does not (a config or split an
    earlier export had) deleted, except ``.gitattributes``.

    Large and binary files (the parquet shards, the figure) go through Xet storage when the Hub offers it for the
    repository (it answers a Xet write token), else through LFS; an upload through Xet that fails is made again
    through LFS. Raises :class:`KgsynthError` for a folder that is not an exported dataset, a malformed repo id,
    a missing token, offline mode, a Hub that cannot be reached or an error it answers (its message, never the
    token).
    """
    if not _REPO_ID.match(repo_id):
        raise KgsynthError(f"--repo {repo_id!r}: expected ORG/NAME", hint="e.g. --repo my-org/kgsynth-med")
    files = files_to_push(directory)
    import huggingface_hub
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        raise KgsynthError("HF_HUB_OFFLINE is set: kgsynth push needs the Hub, and nothing was pushed",
                           hint="unset HF_HUB_OFFLINE (or set it to 0) to push")  # fmt: skip
    if not huggingface_hub.get_token():
        raise KgsynthError("no Hugging Face token found", hint="set HF_TOKEN (a write token), or run `hf auth login`")
    try:
        return _push(directory, files, repo_id=repo_id, private=private)
    except KgsynthError:
        raise
    except Exception as exc:
        raise hub_error(exc, repo_id=repo_id, endpoint=constants.ENDPOINT) from None


def hub_error(exc: Exception, *, repo_id: str, endpoint: str) -> Exception:
    """The one-line error a failed push stands for: the Hub's answer, or why it could not be reached; an
    exception that is neither (a bug) is returned as it is."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(exc, HfHubHTTPError):
        # The Hub's own message (status, reason); requests and headers (the token) are not in it.
        return KgsynthError(f"the Hub refused the push to {repo_id}: {exc}".splitlines()[0],
                            hint="check that the token can write to that organisation")  # fmt: skip
    if isinstance(exc, OfflineModeIsEnabled):
        return KgsynthError("HF_HUB_OFFLINE is set: kgsynth push needs the Hub, and nothing was pushed",
                            hint="unset HF_HUB_OFFLINE (or set it to 0) to push")  # fmt: skip
    if isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "requests"):
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return KgsynthError(f"cannot reach the Hub at {endpoint} ({detail}); nothing was pushed to {repo_id}",
                            hint="check the network, and HF_ENDPOINT if you push to another Hub; then run the same "
                            "command again")  # fmt: skip
    return exc


def xet_offered(api: Any, repo_id: str) -> bool:
    """Whether the Hub hands out a Xet write token for the repository (what its Xet uploads start with); a
    Hub-compatible server without Xet storage answers an error."""
    from huggingface_hub import constants
    from huggingface_hub.utils import build_hf_headers, get_session

    url = f"{api.endpoint or constants.ENDPOINT}/api/datasets/{repo_id}/xet-write-token/main"
    try:
        response = get_session().get(url, headers=build_hf_headers())
    except Exception as exc:  # any failure to answer means "no Xet here"
        logger.info("no Xet storage at %s (%s)", url, type(exc).__name__)
        return False
    offered = response.status_code == 200 and "X-Xet-Cas-Url" in response.headers
    logger.info("Xet storage %s at %s (HTTP %d)", "offered" if offered else "not offered", url, response.status_code)
    return offered


@contextmanager
def xet_disabled(disabled: bool) -> Iterator[None]:
    """Uploads through LFS rather than Xet while inside, when ``disabled`` (huggingface_hub's own switch,
    ``HF_HUB_DISABLE_XET``, read at each upload)."""
    from huggingface_hub import constants

    before = constants.HF_HUB_DISABLE_XET
    constants.HF_HUB_DISABLE_XET = before or disabled
    try:
        yield
    finally:
        constants.HF_HUB_DISABLE_XET = before


def _push(directory: Path, files: list[str], *, repo_id: str, private: bool) -> PushResult:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi()
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    before = api.repo_info(repo_id, repo_type="dataset")
    if private and not before.private:
        # create_repo leaves an existing repo's visibility alone: never publish what was asked to be private
        raise KgsynthError(f"{repo_id} already exists and is public; nothing was pushed",
                           hint="make it private on the Hub first, or push to a new repo")  # fmt: skip
    held = api.list_repo_files(repo_id, repo_type="dataset")
    stale = sorted(set(held) - set(files) - {".gitattributes"})
    message = f"kgsynth push: {len(files)} files ({', '.join(find_configs(directory))})"
    if stale:
        message += f", {len(stale)} stale files deleted"

    def commit() -> Any:
        operations: list[Any] = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(directory / f)) for f in files]
        operations += [CommitOperationDelete(path_in_repo=f) for f in stale]
        return api.create_commit(repo_id, repo_type="dataset", operations=operations, commit_message=message)

    use_xet = xet_offered(api, repo_id)
    if use_xet:
        try:
            info = commit()
        except HfHubHTTPError:
            raise
        except Exception as exc:
            # Nothing is committed before every upload succeeded: push again through LFS, which every Hub takes.
            logger.warning("the Xet upload to %s failed (%s); uploading through LFS instead", repo_id, exc)
            use_xet = False
    if not use_xet:
        with xet_disabled(True):
            info = commit()
    changed = info.oid != before.sha
    logger.info(
        "pushed %d files to %s at %s (%s)", len(files), repo_id, info.oid, "new commit" if changed else "unchanged"
    )
    return PushResult(repo_id=repo_id, url=info.commit_url, commit=info.oid, files=tuple(files), changed=changed,
                      deleted=tuple(stale) if changed else (), xet=use_xet)  # fmt: skip
