"""A small local stand-in for the Hugging Face Hub HTTP API, for tests without network.

    server = FakeHub(root).start()   # root: a folder for blobs; server.url -> http://127.0.0.1:PORT
    env HF_ENDPOINT=server.url HF_TOKEN=dummy ...   # then run the real huggingface_hub client
    server.stop()

It implements only what ``huggingface_hub`` (upload_folder, create_branch, snapshot_download,
hf_hub_download, HfFileSystem), ``datasets`` (push_to_hub, load_dataset) and ``transformers``
(from_pretrained) call, as the real Hub answers them:

    POST /api/repos/create                                  {name, organization, type, visibility}
    POST /api/validate-yaml                                 (README front matter: always valid)
    GET  /api/{type}s/{ns}/{name}[/revision/{rev}]          repo info: sha, siblings, private
    GET  /api/{type}s/{ns}/{name}/tree/{rev}[/{path}]       listing (?recursive=true)
    POST /api/{type}s/{ns}/{name}/branch/{branch}           new branch at a revision (default main)
    POST /api/{type}s/{ns}/{name}/preupload/{rev}           "lfs" for binary suffixes (LFS_SUFFIXES), else "regular"
    POST /{ns}/{name}.git/info/lfs/objects/batch            (and /datasets/...) LFS "basic" transfer: a PUT URL
    PUT  /lfs-upload/{sha256}                               the LFS object itself
    POST /api/{type}s/{ns}/{name}/commit/{rev}              NDJSON: header, file (base64), lfsFile, deletedFile/Folder
    HEAD|GET /{ns}/{name}/resolve/{rev}/{path}              and /datasets/{ns}/{name}/resolve/...

The client uploads LFS files through Xet when ``hf_xet`` is installed; this server has no Xet
storage, so clients must run with ``HF_HUB_DISABLE_XET=1`` (they fall back to plain LFS).

A repository is a list of commits, each a full snapshot ``{path: [sha256, is_lfs]}``; a branch names
its head commit; a revision is a branch or a commit sha. Blob contents live in ``root/blobs``.
Writes need an ``Authorization`` header (any token). Unknown repos, revisions and files get
404 with the ``X-Error-Code`` header (RepoNotFound, RevisionNotFound, EntryNotFound) that the
client turns into its typed errors. ``server.requests`` logs ``(method, path)`` of every call.
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
# What the Hub's default .gitattributes sends to LFS (among others); datasets relies on parquet being LFS.
LFS_SUFFIXES = (".parquet", ".arrow", ".safetensors", ".bin", ".pt", ".png")


class HubError(Exception):
    def __init__(self, status: int, code: str | None, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def git_blob_sha(data: bytes) -> str:
    """The git blob id, which the client compares with a file's local oid (unchanged files skip upload)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, repo_type: str, repo_id: str, private: bool):
        self.type, self.id, self.private = repo_type, repo_id, private
        self.commits = {}  # sha -> {"files": {path: blob}, "parent": sha | None, "message": str}
        self.branches = {}  # name -> sha
        self._commit("initial commit", None, {}, "main")  # the Hub creates a repo with a .gitattributes commit

    def _commit(self, message: str, parent, files: dict, branch: str) -> str:
        sha = hashlib.sha1(json.dumps([self.id, len(self.commits), parent, message, files]).encode()).hexdigest()
        self.commits[sha] = {"files": files, "parent": parent, "message": message}
        self.branches[branch] = sha
        return sha

    def resolve(self, rev: str) -> str:
        sha = self.branches.get(rev) or (rev if rev in self.commits else None)
        if sha is None:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        return sha

    def files(self, rev: str) -> dict:
        return self.commits[self.resolve(rev)]["files"]


class FakeHub:
    def __init__(self, root):
        self.root = Path(root)
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        self.repos: dict = {}  # (type, id) -> Repo
        self.requests: list = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> "FakeHub":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------------ state

    def repo(self, repo_type: str, repo_id: str) -> Repo:
        if (repo_type, repo_id) not in self.repos:
            raise HubError(404, "RepoNotFound", f"Repository not found: {repo_type} {repo_id}")
        return self.repos[repo_type, repo_id]

    def blob(self, sha256: str) -> bytes:
        return (self.root / "blobs" / sha256).read_bytes()

    def store(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        (self.root / "blobs" / sha256).write_bytes(data)
        return sha256

    def oid(self, record) -> str:
        """What the Hub calls a file's oid: the sha256 for an LFS file, else the git blob sha1."""
        sha256, lfs = record
        return sha256 if lfs else git_blob_sha(self.blob(sha256))

    def entries(self, repo: Repo, rev: str, prefix: str = "", recursive: bool = True) -> list:
        """Tree entries (files and implied folders) below ``prefix``."""
        files = repo.files(rev)
        folders = {"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)}
        below, out = (prefix + "/" if prefix else ""), []
        for path in sorted(set(files) | folders):
            if not path.startswith(below) or (not recursive and "/" in path[len(below):]):
                continue
            if path in files:
                sha256, lfs = files[path]
                size = (self.root / "blobs" / sha256).stat().st_size
                entry = {"type": "file", "path": path, "size": size, "oid": git_blob_sha(sha256.encode())}
                if lfs:  # the git blob is the pointer file; the content is the LFS object
                    entry["lfs"] = {"oid": sha256, "size": size, "pointerSize": 134}
                else:
                    entry["oid"] = self.oid(files[path])
                out.append(entry)
            else:
                out.append({"type": "directory", "path": path, "oid": hashlib.sha1(path.encode()).hexdigest()})
        return out

    def info(self, repo: Repo, rev: str) -> dict:
        sha = repo.resolve(rev)
        return {"id": repo.id, "_id": repo.id, "sha": sha, "private": repo.private, "disabled": False,
                "gated": False, "lastModified": "2026-01-01T00:00:00.000Z", "tags": [], "downloads": 0, "likes": 0,
                "siblings": [{"rfilename": p} for p in sorted(repo.commits[sha]["files"])]}

    def commit(self, repo: Repo, rev: str, body: bytes) -> dict:
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        if rev not in repo.branches:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {rev} (commits go to a branch)")
        parent = repo.branches[rev]
        files = dict(repo.commits[parent]["files"])
        message = "commit"
        for item in lines:
            key, value = item["key"], item["value"]
            if key == "header":
                message = value.get("summary") or message
                if value.get("parentCommit") and value["parentCommit"] != parent:
                    raise HubError(412, None, "parent commit is not the head of the branch")
            elif key == "file":
                files[value["path"]] = [self.store(base64.b64decode(value["content"])), False]
            elif key == "lfsFile":
                if not (self.root / "blobs" / value["oid"]).is_file():
                    raise HubError(422, None, f"LFS object {value['oid']} of {value['path']} was never uploaded")
                files[value["path"]] = [value["oid"], True]
            elif key == "deletedFile":
                files.pop(value["path"], None)
            elif key == "deletedFolder":
                files = {p: s for p, s in files.items() if not p.startswith(value["path"].rstrip("/") + "/")}
            else:
                raise HubError(400, None, f"unsupported commit operation {key!r}")
        sha = repo._commit(message, parent, files, rev)
        prefix = "" if repo.type == "model" else f"/{repo.type}s"
        return {"commitOid": sha, "commitUrl": f"{self.url}{prefix}/{repo.id}/commit/{sha}", "success": True}


def _handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet: requests are in hub.requests
            pass

        def do_GET(self):
            self._dispatch("GET")

        def do_HEAD(self):
            self._dispatch("HEAD")

        def do_POST(self):
            self._dispatch("POST")

        def do_PUT(self):
            self._dispatch("PUT")

        def _dispatch(self, method: str):
            split = urlsplit(self.path)
            parts = [unquote(p) for p in split.path.strip("/").split("/")]
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            hub.requests.append((method, split.path))
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                with hub.lock:
                    self._route(method, parts, query, body)
            except HubError as err:
                headers = {"X-Error-Message": err.message}
                if err.code:
                    headers["X-Error-Code"] = err.code
                self._send(err.status, {"error": err.message}, headers)

        def _route(self, method, parts, query, body):
            if parts[0] == "api":
                return self._api(method, parts[1:], query, body)
            if parts[0] == "lfs-upload" and method == "PUT":
                if hub.store(body) != parts[1]:
                    raise HubError(400, None, "LFS object does not match its sha256")
                return self._send(200, {})
            if parts[-4:] == ["info", "lfs", "objects", "batch"]:
                return self._lfs_batch(parts, json.loads(body))
            if parts[0] == "datasets" and len(parts) > 3 and parts[3] == "resolve":
                return self._resolve(method, "dataset", parts[1:])
            if len(parts) > 2 and parts[2] == "resolve":
                return self._resolve(method, "model", parts)
            raise HubError(404, None, f"no route for {method} {self.path}")

        def _api(self, method, parts, query, body):
            if parts == ["repos", "create"] and method == "POST":
                return self._create(json.loads(body))
            if parts == ["validate-yaml"]:
                return self._send(200, {"errors": [], "warnings": []})
            if len(parts) < 3 or parts[0] not in REPO_TYPES:
                raise HubError(404, None, f"no route for {method} {self.path}")
            repo = hub.repo(REPO_TYPES[parts[0]], "/".join(parts[1:3]))
            action, rest = (parts[3], parts[4:]) if len(parts) > 3 else ("revision", ["main"])
            if action in ("preupload", "commit", "branch"):
                self._need_token()
            if action == "revision" and rest:
                return self._send(200, hub.info(repo, rest[0]))
            if action == "tree" and rest:
                recursive = query.get("recursive", "false").lower() == "true"
                entries = hub.entries(repo, rest[0], prefix="/".join(rest[1:]), recursive=recursive)
                if rest[1:] and not entries:
                    raise HubError(404, "EntryNotFound", f"{'/'.join(rest[1:])} does not exist on {rest[0]}")
                return self._send(200, entries)
            if action == "branch" and rest and method == "POST":
                start = (json.loads(body) if body else {}).get("startingPoint") or "main"
                if rest[0] in repo.branches:
                    raise HubError(409, None, f"Reference already exists: {rest[0]}")
                repo.branches[rest[0]] = repo.resolve(start)
                return self._send(200, {})
            if action == "preupload" and rest:
                files = repo.files(rest[0])
                return self._send(200, {"files": [
                    {"path": f["path"], "uploadMode": "lfs" if f["path"].endswith(LFS_SUFFIXES) else "regular",
                     "shouldIgnore": False, "oid": hub.oid(files[f["path"]]) if f["path"] in files else None}
                    for f in json.loads(body)["files"]]})
            if action == "commit" and rest and method == "POST":
                return self._send(200, hub.commit(repo, rest[0], body))
            raise HubError(404, None, f"no route for {method} {self.path}")

        def _create(self, payload):
            self._need_token()
            repo_type = payload.get("type") or "model"
            repo_id = f"{payload.get('organization') or 'cadmus-test'}/{payload['name']}"
            prefix = "" if repo_type == "model" else f"/{repo_type}s"
            answer = {"url": f"{hub.url}{prefix}/{repo_id}", "name": repo_id}
            if (repo_type, repo_id) in hub.repos:  # the client reads "url" from this answer with exist_ok
                return self._send(409, {**answer, "error": "You already created this repo"},
                                  {"X-Error-Message": "You already created this repo"})
            hub.repos[repo_type, repo_id] = Repo(repo_type, repo_id, payload.get("visibility") == "private")
            self._send(200, answer)

        def _lfs_batch(self, parts, payload):
            self._need_token()
            repo_type = "dataset" if parts[0] == "datasets" else "model"
            hub.repo(repo_type, "/".join(parts[-6:-4])[: -len(".git")])
            objects = []
            for obj in payload["objects"]:
                done = (hub.root / "blobs" / obj["oid"]).is_file()
                actions = {} if done else {"actions": {"upload": {"href": f"{hub.url}/lfs-upload/{obj['oid']}"}}}
                objects.append({"oid": obj["oid"], "size": obj["size"], **actions})
            self._send(200, {"transfer": "basic", "objects": objects})

        def _resolve(self, method, repo_type, parts):
            repo = hub.repo(repo_type, "/".join(parts[:2]))
            rev, path = parts[3], "/".join(parts[4:])
            sha = repo.resolve(rev)
            record = repo.commits[sha]["files"].get(path)
            if record is None:
                raise HubError(404, "EntryNotFound", f"{path} does not exist on {rev}")
            data = hub.blob(record[0])
            headers = {"X-Repo-Commit": sha, "ETag": f'"{hub.oid(record)}"', "Content-Type": "application/octet-stream"}
            self._send(200, data, headers, head=method == "HEAD")

        def _need_token(self):
            if not self.headers.get("Authorization", "").startswith("Bearer "):
                raise HubError(401, None, "Invalid username or password.")

        def _send(self, status, body, headers=None, head=False):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            if not isinstance(body, bytes):
                self.send_header("Content-Type", "application/json")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if not head:
                self.wfile.write(data)

    return Handler
