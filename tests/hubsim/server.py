"""A threaded HTTP server on 127.0.0.1 speaking the part of the Hugging Face Hub API that the installed clients use.

Written for huggingface_hub 2.4 / datasets 5.2 / transformers 5.24 by running them against it and reading what
they ask (see the request log): repo info (`/api/<type>s/<id>[/revision/<rev>]`), `tree` and `paths-info`,
`refs`, and file downloads (`/<id>/resolve/<rev>/<path>`, `/datasets/<id>/resolve/...`) with HEAD, ETag,
X-Repo-Commit, X-Linked-Size and byte ranges. Errors carry the hub's `X-Error-Code` (RepoNotFound,
RevisionNotFound, EntryNotFound, GatedRepo) so the clients raise their usual exceptions. No Xet, no redirects.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .repos import FIXED_DATE, REPO_TYPES, Commit, FileEntry, Repo, load_repos

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class HubError(Exception):
    """An error answer: HTTP status, the hub's X-Error-Code and a message."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class HubState:
    """What the server serves (repos read from a root folder) and what it was asked (the request log)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.repos: dict[tuple[str, str], Repo] = load_repos(self.root)
        self.log: list[tuple[str, str, int]] = []  # (method, path, status)
        self.lock = threading.Lock()

    def record(self, method: str, path: str, status: int) -> None:
        """Append one request to the log."""
        with self.lock:
            self.log.append((method, path, status))

    def requests(self, contains: str = "") -> list[tuple[str, str, int]]:
        """Logged requests whose path contains `contains`."""
        with self.lock:
            return [r for r in self.log if contains in r[1]]


def _file_json(e: FileEntry, commit: Commit, expand: bool) -> dict:
    out: dict = {"type": "file", "oid": e.git_oid, "size": e.size, "path": e.path}
    if e.lfs:
        out["lfs"] = {"oid": e.sha256, "size": e.size, "pointerSize": 134}
    if expand:
        out["lastCommit"] = {"id": commit.sha, "title": "fixture", "date": FIXED_DATE}
        out["securityFileStatus"] = {"status": "safe"}
    return out


def _dir_json(path: str, commit: Commit, expand: bool) -> dict:
    out: dict = {"type": "directory", "oid": commit.sha, "size": 0, "path": path}
    if expand:
        out["lastCommit"] = {"id": commit.sha, "title": "fixture", "date": FIXED_DATE}
    return out


def _card_data(commit: Commit) -> dict | None:
    readme = commit.files.get("README.md")
    if readme is None:
        return None
    text = readme.disk.read_text()
    if not text.startswith("---"):
        return None
    import yaml

    return yaml.safe_load(text.split("---", 2)[1]) or None


def repo_info(repo: Repo, commit: Commit) -> dict:
    """The JSON of `/api/models/<id>` or `/api/datasets/<id>` at one commit (the fields the clients read)."""
    org = repo.repo_id.split("/")[0]
    siblings = []
    for e in commit.files.values():
        sib: dict = {"rfilename": e.path, "size": e.size, "blobId": e.git_oid}
        if e.lfs:
            sib["lfs"] = {"sha256": e.sha256, "size": e.size, "pointerSize": 134}
        siblings.append(sib)
    card = _card_data(commit)
    info: dict = {
        "_id": commit.sha[:24], "id": repo.repo_id, "author": org, "sha": commit.sha, "private": False,
        "gated": "manual" if repo.gated else False, "disabled": False, "downloads": 0, "likes": 0,
        "createdAt": FIXED_DATE, "lastModified": FIXED_DATE, "tags": [], "siblings": siblings,
        "usedStorage": sum(e.size for e in commit.files.values()),
    }
    if card is not None:
        info["cardData"] = card
    if repo.repo_type == "models":
        config = commit.files.get("config.json")
        if config is not None:
            cfg = json.loads(config.disk.read_text())
            info["config"] = {"architectures": cfg.get("architectures"), "model_type": cfg.get("model_type")}
            info["library_name"] = "transformers"
            info["pipeline_tag"] = "text-generation"
    else:
        info["description"] = ""
    return info


class Handler(BaseHTTPRequestHandler):
    """One request: parse the path, find repo/commit/file, answer JSON or bytes."""

    protocol_version = "HTTP/1.1"
    server_version = "hubsim/1.0"
    state: HubState  # set on the subclass made by `make_server`

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        pass  # the request log lives in HubState

    # -------------------------------------------------------------- plumbing
    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.state.record(self.command, self.path, status)

    def _json(self, obj: object, headers: dict[str, str] | None = None) -> None:
        self._send(200, json.dumps(obj).encode(), headers)

    def _error(self, err: HubError) -> None:
        headers = {"X-Error-Message": err.message}
        if err.code:
            headers["X-Error-Code"] = err.code
        self._send(err.status, json.dumps({"error": err.message}).encode(), headers)

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._dispatch()

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def _dispatch(self) -> None:
        body = self._body() if self.command == "POST" else b""
        url = urlsplit(self.path)
        segs = [unquote(s) for s in url.path.split("/")[1:]]
        query = parse_qs(url.query)
        try:
            if segs[:1] == ["api"]:
                self._api(segs[1:], query, body)
            else:
                self._resolve(segs)
        except HubError as err:
            self._error(err)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # -------------------------------------------------------------- lookups
    def _repo(self, repo_type: str, repo_id: str) -> Repo:
        repo = self.state.repos.get((repo_type, repo_id))
        if repo is None:
            raise HubError(404, "RepoNotFound", f"Repository not found: {repo_type}/{repo_id}")
        if repo.gated and not self.headers.get("Authorization", "").startswith("Bearer "):
            raise HubError(401, "GatedRepo", f"Access to {repo_id} is restricted: you must have access to it")
        return repo

    @staticmethod
    def _commit(repo: Repo, revision: str) -> Commit:
        commit = repo.commit(revision)
        if commit is None:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return commit

    # -------------------------------------------------------------- /api/...
    def _api(self, segs: list[str], query: dict, body: bytes) -> None:
        if segs[:1] == ["telemetry"] or not segs:
            self._json({})
            return
        if segs[0] not in REPO_TYPES or len(segs) < 3:
            raise HubError(404, None, f"unknown API route /api/{'/'.join(segs)}")
        repo_type, repo_id, rest = segs[0], f"{segs[1]}/{segs[2]}", segs[3:]
        repo = self._repo(repo_type, repo_id)
        if not rest:
            commit = self._commit(repo, "main")
            self._json(repo_info(repo, commit))
        elif rest[0] == "revision":
            commit = self._commit(repo, "/".join(rest[1:]))
            self._json(repo_info(repo, commit))
        elif rest[0] == "tree":
            self._tree(repo, rest[1] if len(rest) > 1 else "main", "/".join(rest[2:]), query)
        elif rest[0] == "paths-info":
            self._paths_info(repo, "/".join(rest[1:]) or "main", body)
        elif rest[0] == "refs":
            self._refs(repo, query)
        elif rest[0] == "commits":
            commit = self._commit(repo, "/".join(rest[1:]) or "main")
            self._json([{"id": commit.sha, "title": "fixture", "message": "", "authors": [],
                         "date": FIXED_DATE}])
        else:
            raise HubError(404, None, f"unknown API route for {repo_id}: {'/'.join(rest)}")

    def _tree(self, repo: Repo, revision: str, path: str, query: dict) -> None:
        commit = self._commit(repo, revision)
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        expand = query.get("expand", ["false"])[0].lower() == "true"
        path = path.strip("/")
        dirs = commit.directories()
        if path and path not in dirs:
            if path in commit.files:
                self._json([_file_json(commit.files[path], commit, expand)])
                return
            raise HubError(404, "EntryNotFound", f"{path} does not exist on {revision}")
        prefix = f"{path}/" if path else ""

        def direct(p: str) -> bool:
            return p.startswith(prefix) and (recursive or "/" not in p[len(prefix):])

        out = [_dir_json(d, commit, expand) for d in sorted(dirs) if direct(d)]
        out += [_file_json(e, commit, expand) for p, e in sorted(commit.files.items()) if direct(p)]
        self._json(out)

    def _paths_info(self, repo: Repo, revision: str, body: bytes) -> None:
        commit = self._commit(repo, revision)
        ctype = self.headers.get("Content-Type", "")
        if "json" in ctype:
            payload = json.loads(body or b"{}")
            paths, expand = payload.get("paths", []), bool(payload.get("expand"))
        else:
            form = parse_qs(body.decode())
            paths, expand = form.get("paths", []), form.get("expand", ["false"])[0].lower() == "true"
        if isinstance(paths, str):
            paths = [paths]
        dirs = commit.directories()
        out = []
        for p in paths:
            p = p.strip("/")
            if p in commit.files:
                out.append(_file_json(commit.files[p], commit, expand))
            elif p in dirs or p == "":
                out.append(_dir_json(p, commit, expand))
        self._json(out)

    def _refs(self, repo: Repo, query: dict) -> None:
        out: dict[str, list] = {"branches": [], "converts": [], "tags": []}
        include_prs = query.get("include_prs", ["false"])[0].lower() in ("1", "true")
        if include_prs:
            out["pullRequests"] = []
        for name, commit in sorted(repo.revisions.items()):
            if name.startswith("refs/pr/"):
                if include_prs:
                    out["pullRequests"].append({"name": name[len("refs/"):], "ref": name, "targetCommit": commit.sha})
            else:
                out["branches"].append({"name": name, "ref": f"refs/heads/{name}", "targetCommit": commit.sha})
        self._json(out)

    # -------------------------------------------------------------- downloads
    def _resolve(self, segs: list[str]) -> None:
        repo_type = "models"
        if segs and segs[0] in ("datasets", "models"):
            repo_type, segs = segs[0], segs[1:]
        if len(segs) < 5 or segs[2] != "resolve":
            raise HubError(404, None, f"unknown route {self.path}")
        repo = self._repo(repo_type, f"{segs[0]}/{segs[1]}")
        commit = self._commit(repo, segs[3])
        path = "/".join(segs[4:])
        entry = commit.files.get(path)
        if entry is None:
            raise HubError(404, "EntryNotFound", f"{path} does not exist on {segs[3]}")
        data = entry.disk.read_bytes() if self.command == "GET" else b""
        headers = {"ETag": f'"{entry.etag}"', "X-Repo-Commit": commit.sha, "Accept-Ranges": "bytes"}
        if entry.lfs:
            headers["X-Linked-Etag"] = f'"{entry.sha256}"'
            headers["X-Linked-Size"] = str(entry.size)
        rng = self.headers.get("Range")
        if rng and self.command == "GET":
            m = _RANGE.match(rng.strip())
            if not m or (not m.group(1) and not m.group(2)):
                raise HubError(416, None, f"bad range {rng}")
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), entry.size - 1) if m.group(2) else entry.size - 1
            else:  # suffix range: the last N bytes
                start, end = max(entry.size - int(m.group(2)), 0), entry.size - 1
            if start >= entry.size or end < start:
                headers["Content-Range"] = f"bytes */{entry.size}"
                self._send(416, b"", headers, "application/octet-stream")
                return
            headers["Content-Range"] = f"bytes {start}-{end}/{entry.size}"
            self._send(206, data[start:end + 1], headers, "application/octet-stream")
            return
        if self.command == "HEAD":  # the real size, no body
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(entry.size))
            self.end_headers()
            self.state.record(self.command, self.path, 200)
            return
        self._send(200, data, headers, "application/octet-stream")


class HubServer:
    """A running simulator: `url`, `state` (repos and request log), `stop()`."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = HubState(root)
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="hubsim", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """The endpoint to put in HF_ENDPOINT."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Shut the server down and close its socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def requested(self, contains: str) -> list[str]:
        """Paths (as sent) of the logged requests containing `contains`."""
        return [p for _, p, _ in self.state.requests(contains)]

    def commit_sha(self, repo_type: str, repo_id: str, revision: str = "main") -> str:
        """The sha the server gives a revision (what a client must record)."""
        return self.state.repos[(repo_type, repo_id)].revisions[revision].sha


def quoted(revision: str) -> str:
    """A revision as one URL segment (refs/pr/3 -> refs%2Fpr%2F3), as the clients send it."""
    return quote(revision, safe="")


def repo_ids(server: HubServer) -> Iterable[str]:
    """`type/id` of every served repo."""
    return [f"{t}/{i}" for t, i in server.state.repos]
