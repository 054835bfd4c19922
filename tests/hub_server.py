"""A loopback stand-in for the Hugging Face Hub: the part of its HTTP API that ``huggingface_hub`` uses to
create a repository and commit files to it, and that ``datasets.load_dataset("ORG/NAME", ...)`` uses to
read them back. The real Hub cannot run here; everything else in the push test is real.

Covered: ``POST /api/repos/create``, ``POST /api/validate-yaml`` (parses the card's front matter),
``POST /api/{type}s/{repo}/preupload/{rev}`` (answers ``lfs`` for a binary file -- a NUL byte in its sample,
a parquet or PNG name -- or one over 10 MB, as the Hub does, ``regular`` for the rest), the LFS protocol for those
(``POST /{type}s/{repo}.git/info/lfs/objects/batch`` with ``basic`` transfers, ``PUT`` of the bytes, which are
checked against their SHA-256, and ``POST`` verify), ``POST /api/{type}s/{repo}/commit/{rev}`` (the ndjson
commit with base64 files, ``lfsFile`` pointers and ``deletedFile`` lines),
``GET /api/{type}s/{repo}/xet-write-token/{rev}`` only when made with ``xet_cas_url`` (then it hands out a
token for that CAS address; without it, the server does not offer Xet storage, as a Hub-compatible server
without Xet does not),
``GET /api/{type}s/{repo}[/revision/{rev}]`` (repo info with siblings and card data),
``GET /api/{type}s/{repo}/tree/{rev}[/{path}]`` (listing, recursive or not), ``POST .../paths-info/{rev}``,
and ``HEAD``/``GET /{type}s/{repo}/resolve/{rev}/{path}`` (files, with ``Range``). Writes need the
server's token as a bearer token; private repos need it to be read too. Every request is logged (method,
path, query, headers except ``Authorization``, body) so a test can check what a client sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml


def blob_oid(content: bytes) -> str:
    """The git blob id of ``content`` (what the Hub reports as a regular file's ``oid`` and ETag)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Commit:
    oid: str
    message: str
    files: dict[str, bytes]


@dataclass
class Repo:
    repo_id: str
    repo_type: str
    private: bool
    commits: list[Commit] = field(default_factory=list)
    lfs_paths: set[str] = field(default_factory=set)  # files committed as LFS pointers

    def at(self, revision: str) -> Commit | None:
        if revision in ("main", "HEAD"):
            return self.commits[-1] if self.commits else Commit(oid="0" * 40, message="", files={})
        return next((c for c in self.commits if c.oid == revision), None)


class HubServer:
    """``with HubServer(token="hf_x") as hub: ...`` serves on ``hub.base_url`` (127.0.0.1, a free port)."""

    def __init__(self, *, token: str, xet_cas_url: str | None = None) -> None:
        self.token = token
        self.xet_cas_url = xet_cas_url
        self.lfs: dict[str, bytes] = {}  # LFS objects uploaded, by SHA-256
        self.repos: dict[tuple[str, str], Repo] = {}
        self.log: list[dict[str, Any]] = []
        self.authorized_writes = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def log_text(self) -> str:
        return json.dumps(self.log)

    def commits(self, repo_id: str, repo_type: str = "dataset") -> list[Commit]:
        return self.repos[(repo_type, repo_id)].commits


_REPO_API = re.compile(r"^/api/(models|datasets|spaces)/([^/]+/[^/]+)(?:/(revision|tree|preupload|commit|paths-info"
                       r"|xet-write-token)/([^/]+)(?:/(.*))?)?$")  # fmt: skip
_LFS_BATCH = re.compile(r"^/(?:(datasets|spaces)/)?([^/]+/[^/]+)\.git/info/lfs/objects/batch$")
_LFS_BINARY_SUFFIXES = (".parquet", ".png", ".arrow", ".bin", ".safetensors", ".gguf")
LFS_THRESHOLD = 10 * 1024 * 1024


def is_lfs(path: str, sample: bytes, size: int) -> bool:
    """Whether the Hub would store this file in LFS: binary (a NUL byte in its first 512 bytes, or a binary
    file type its .gitattributes tracks) or over 10 MB."""
    return path.endswith(_LFS_BINARY_SUFFIXES) or b"\0" in sample[:512] or size > LFS_THRESHOLD


def lfs_oid(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


_RESOLVE = re.compile(r"^/(?:(datasets|spaces)/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


def _handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the test reads hub.log
            pass

        # --- plumbing ---------------------------------------------------------------------------------
        def _body(self) -> bytes:
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def _record(self, body: bytes) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
            with hub.lock:
                hub.log.append({"method": self.command, "path": self.path, "headers": headers,
                                "body": body.decode("utf-8", "replace")})  # fmt: skip

        def _authorized(self) -> bool:
            return self.headers.get("Authorization", "") == f"Bearer {hub.token}"

        def _send(self, status: int, payload: Any = None, *, raw: bytes | None = None,
                  headers: dict[str, str] | None = None) -> None:  # fmt: skip
            data = raw if raw is not None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if raw is None else "application/octet-stream")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _error(self, status: int, code: str, message: str) -> None:
            self._send(status, {"error": message}, headers={"X-Error-Code": code, "X-Error-Message": message})

        def _repo(self, repo_type: str, repo_id: str) -> Repo | None:
            repo = hub.repos.get((repo_type, repo_id))
            if repo is None or (repo.private and not self._authorized()):
                self._error(404, "RepoNotFound", f"Repository not found: {repo_id}")
                return None
            return repo

        # --- verbs ------------------------------------------------------------------------------------
        def do_HEAD(self) -> None:
            self._record(b"")
            self._route(b"")

        def do_GET(self) -> None:
            self._record(b"")
            self._route(b"")

        def do_POST(self) -> None:
            body = self._body()
            self._record(body)
            self._route(body)

        def do_PUT(self) -> None:  # an LFS object's bytes, at the href the batch answer gave
            body = self._body()
            self._record(b"<%d bytes>" % len(body))
            m = re.fullmatch(r"/lfs-upload/([0-9a-f]{64})", urlsplit(self.path).path)
            if not m:
                return self._error(404, "EntryNotFound", f"no such endpoint here: PUT {self.path}")
            if lfs_oid(body) != m.group(1):
                return self._error(400, "BadRequest", "the uploaded bytes do not have the announced SHA-256")
            with hub.lock:
                hub.lfs[m.group(1)] = body
            return self._send(200, {})

        def _route(self, body: bytes) -> None:
            url = urlsplit(self.path)
            path, query = unquote(url.path), parse_qs(url.query)
            if self.command == "POST" and path == "/api/repos/create":
                return self._create(json.loads(body))
            if self.command == "POST" and path == "/api/validate-yaml":
                return self._validate_yaml(json.loads(body))
            if self.command == "POST" and path == "/lfs-verify":
                oid = json.loads(body).get("oid", "")
                with hub.lock:
                    present = oid in hub.lfs
                return self._send(200, {}) if present else self._error(404, "EntryNotFound", f"no LFS object {oid}")
            m = _LFS_BATCH.match(path)
            if m and self.command == "POST":
                return self._lfs_batch(json.loads(body))
            m = _RESOLVE.match(path)
            if m and self.command in ("GET", "HEAD"):
                kind = (m.group(1) or "models").rstrip("s")
                return self._resolve(kind, m.group(2), m.group(3), m.group(4))
            m = _REPO_API.match(path)
            if not m:
                return self._error(404, "EntryNotFound", f"no such endpoint here: {self.command} {path}")
            repo_type, repo_id, action, rev, rest = m.group(1)[:-1], m.group(2), m.group(3), m.group(4), m.group(5)
            if action in ("preupload", "commit", "xet-write-token"):
                if not self._authorized():
                    return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
                with hub.lock:
                    hub.authorized_writes += 1
            repo = self._repo(repo_type, repo_id)
            if repo is None:
                return None
            if action in (None, "revision"):
                return self._info(repo, rev or "main")
            if action == "preupload":
                files = json.loads(body)["files"]
                head = repo.at(rev or "main")
                old = head.files if head else {}
                answer = []
                for f in files:
                    lfs = is_lfs(f["path"], base64.b64decode(f.get("sample", "")), int(f.get("size", 0)))
                    before = old.get(f["path"])
                    oid = None if before is None else lfs_oid(before) if lfs else blob_oid(before)
                    answer.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular",
                                   "shouldIgnore": False, "oid": oid})  # fmt: skip
                return self._send(200, {"files": answer})
            if action == "xet-write-token":
                if hub.xet_cas_url is None:
                    return self._error(404, "EntryNotFound", "this server does not offer Xet storage")
                return self._send(200, {}, headers={"X-Xet-Cas-Url": hub.xet_cas_url,
                                                    "X-Xet-Access-Token": "xet-loopback-token",
                                                    "X-Xet-Token-Expiration": str(2**31 - 1)})  # fmt: skip
            if action == "commit":
                return self._commit(repo, body)
            commit = repo.at(rev)
            if commit is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            if action == "tree":
                return self._tree(commit, (rest or "").strip("/"), query.get("recursive", ["false"])[0] == "true")
            if action == "paths-info":
                form = parse_qs(body.decode())
                wanted = json.loads(body)["paths"] if body.startswith(b"{") else form.get("paths", [])
                return self._send(200, [e for p in wanted for e in self._entries(commit, p.strip("/"), exact=True)])
            return self._error(404, "EntryNotFound", path)

        # --- write side -------------------------------------------------------------------------------
        def _create(self, payload: dict[str, Any]) -> None:
            if not self._authorized():
                return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
            repo_type = payload.get("type") or "model"
            repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
            prefix = "" if repo_type == "model" else f"{repo_type}s/"
            url = f"{hub.base_url}/{prefix}{repo_id}"
            with hub.lock:
                hub.authorized_writes += 1
                if (repo_type, repo_id) in hub.repos:
                    return self._send(409, {"error": "You already created this repo", "url": url})
                private = payload.get("visibility") == "private" or bool(payload.get("private"))
                hub.repos[(repo_type, repo_id)] = Repo(repo_id=repo_id, repo_type=repo_type, private=private)
            return self._send(200, {"url": url, "name": repo_id})

        def _lfs_batch(self, payload: dict[str, Any]) -> None:
            if not self._authorized():
                return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
            if payload.get("operation") != "upload" or "basic" not in payload.get("transfers", ["basic"]):
                return self._error(400, "BadRequest", "this loopback Hub takes basic LFS uploads only")
            objects = []
            for o in payload["objects"]:
                entry: dict[str, Any] = {"oid": o["oid"], "size": o["size"], "authenticated": True}
                with hub.lock:
                    present = o["oid"] in hub.lfs
                if not present:  # the Hub leaves out the actions of an object it already holds
                    entry["actions"] = {"upload": {"href": f"{hub.base_url}/lfs-upload/{o['oid']}"},
                                        "verify": {"href": f"{hub.base_url}/lfs-verify"}}  # fmt: skip
                objects.append(entry)
            return self._send(200, {"transfer": "basic", "objects": objects})

        def _validate_yaml(self, payload: dict[str, Any]) -> None:
            content = payload.get("content", "")
            errors = []
            if content.startswith("---\n"):
                try:
                    meta = yaml.safe_load(content.split("\n---\n", 1)[0][4:])
                    if not isinstance(meta, dict):
                        errors.append({"message": "metadata is not a mapping"})
                except yaml.YAMLError as exc:
                    errors.append({"message": f"invalid YAML: {exc}"})
            if errors:
                return self._send(400, {"errors": errors, "warnings": []})
            return self._send(200, {"errors": [], "warnings": []})

        def _commit(self, repo: Repo, body: bytes) -> None:
            lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
            header = next(x["value"] for x in lines if x["key"] == "header")
            with hub.lock:
                files = dict(repo.commits[-1].files) if repo.commits else {}
                for x in lines:
                    if x["key"] == "file":
                        v = x["value"]
                        files[v["path"]] = base64.b64decode(v["content"]) if v.get("encoding") == "base64" else (
                            v["content"].encode())  # fmt: skip
                    elif x["key"] == "lfsFile":
                        v = x["value"]
                        if v["oid"] not in hub.lfs:
                            return self._error(400, "BadRequest", f"LFS object {v['oid']} was never uploaded")
                        files[v["path"]] = hub.lfs[v["oid"]]
                        repo.lfs_paths.add(v["path"])
                    elif x["key"] == "deletedFile":
                        files.pop(x["value"]["path"], None)
                    elif x["key"] != "header":
                        return self._error(400, "BadRequest", f"this loopback Hub does not take {x['key']!r} lines")
                parent = repo.commits[-1].oid if repo.commits else ""
                oid = hashlib.sha1((parent + header["summary"] + json.dumps(sorted(
                    (p, blob_oid(c)) for p, c in files.items()))).encode()).hexdigest()  # fmt: skip
                repo.commits.append(Commit(oid=oid, message=header["summary"], files=files))
            prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
            return self._send(200, {"commitUrl": f"{hub.base_url}/{prefix}{repo.repo_id}/commit/{oid}",
                                    "commitOid": oid, "success": True, "pullRequestUrl": None})  # fmt: skip

        # --- read side --------------------------------------------------------------------------------
        def _info(self, repo: Repo, rev: str) -> None:
            commit = repo.at(rev)
            if commit is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            card: dict[str, Any] = {}
            readme = commit.files.get("README.md", b"").decode()
            if readme.startswith("---\n"):
                card = yaml.safe_load(readme.split("\n---\n", 1)[0][4:]) or {}
            org = repo.repo_id.split("/")[0]
            return self._send(200, {
                "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24], "id": repo.repo_id, "author": org,
                "sha": commit.oid, "private": repo.private, "disabled": False, "gated": False, "downloads": 0,
                "likes": 0, "tags": [f"license:{card['license']}"] if "license" in card else [],
                "cardData": card, "lastModified": "2026-01-01T00:00:00.000Z",
                "createdAt": "2026-01-01T00:00:00.000Z", "usedStorage": sum(len(c) for c in commit.files.values()),
                "siblings": [{"rfilename": p} for p in sorted(commit.files)],
            })  # fmt: skip

        def _entries(self, commit: Commit, path: str, *, exact: bool) -> list[dict[str, Any]]:
            if path in commit.files:
                c = commit.files[path]
                entry: dict[str, Any] = {"type": "file", "oid": blob_oid(c), "size": len(c), "path": path}
                if is_lfs(path, c, len(c)):
                    entry["lfs"] = {"oid": lfs_oid(c), "size": len(c), "pointerSize": 134}
                return [entry]
            if exact and any(p.startswith(path + "/") for p in commit.files):
                return [{"type": "directory", "oid": blob_oid(path.encode()), "size": 0, "path": path}]
            return []

        def _tree(self, commit: Commit, path: str, recursive: bool) -> None:
            prefix = path + "/" if path else ""
            under = [p for p in commit.files if p.startswith(prefix)]
            if path and not under:
                return self._error(404, "EntryNotFound", f"{path} does not exist on this revision")
            out: dict[str, dict[str, Any]] = {}
            for p in sorted(under):
                parts = p[len(prefix) :].split("/")
                for depth in range(1, len(parts)):
                    d = prefix + "/".join(parts[:depth])
                    if recursive or depth == 1:
                        out.setdefault(d, {"type": "directory", "oid": blob_oid(d.encode()), "size": 0, "path": d})
                if recursive or len(parts) == 1:
                    out[p] = self._entries(commit, p, exact=False)[0]
            return self._send(200, list(out.values()))

        def _resolve(self, repo_type: str, repo_id: str, rev: str, path: str) -> None:
            repo = self._repo(repo_type, repo_id)
            if repo is None:
                return None
            commit = repo.at(rev)
            if commit is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            if path not in commit.files:
                return self._error(404, "EntryNotFound", f"{path} does not exist on {rev}")
            content = commit.files[path]
            etag = lfs_oid(content) if is_lfs(path, content, len(content)) else blob_oid(content)  # as the Hub's
            headers = {"ETag": f'"{etag}"', "X-Repo-Commit": commit.oid, "Accept-Ranges": "bytes"}
            rng = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
            if rng and self.command == "GET":
                start = int(rng.group(1) or 0)
                end = min(int(rng.group(2)) if rng.group(2) else len(content) - 1, len(content) - 1)
                headers["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
                return self._send(206, raw=content[start : end + 1], headers=headers)
            return self._send(200, raw=content, headers=headers)

    return Handler
