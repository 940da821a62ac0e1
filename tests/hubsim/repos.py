"""The simulated hub's repositories: folders on disk, one per (repo, revision), read into immutable commits.

Layout under a root folder::

    ROOT/models/<org>/<name>/<quoted revision>/<files...>
    ROOT/datasets/<org>/<name>/<quoted revision>/<files...>
    ROOT/<type>/<org>/<name>/repo.json   (optional: {"gated": true})

`<quoted revision>` is the revision name quoted as a URL segment (`main`, `refs%2Fpr%2F3`). Each revision is
one commit whose sha is derived from its files, so a rebuilt fixture with the same bytes has the same shas.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

REPO_TYPES = {"models": "model", "datasets": "dataset"}
LFS_SUFFIXES = (".safetensors", ".bin", ".parquet", ".model", ".pt", ".gguf")
FIXED_DATE = "2024-02-26T00:00:00.000Z"  # ChatMusician's release week: no clock in fixtures


@dataclass(frozen=True)
class FileEntry:
    """One file of a commit: its bytes live on disk, its ids are computed once."""

    path: str
    disk: Path
    size: int
    sha256: str
    git_oid: str  # the git blob sha1 (what the hub reports as `oid` for a regular file)

    @property
    def lfs(self) -> bool:
        """Whether the hub would store this file with LFS (large binaries)."""
        return self.path.endswith(LFS_SUFFIXES)

    @property
    def etag(self) -> str:
        """The ETag the hub sends: the sha256 for LFS files, the git blob sha1 otherwise."""
        return self.sha256 if self.lfs else self.git_oid


@dataclass
class Commit:
    """One revision of a repo: a sha and its files by path."""

    repo_type: str  # "models" | "datasets"
    repo_id: str
    revision: str  # the name it was built under (main, refs/pr/3)
    sha: str
    files: dict[str, FileEntry] = field(default_factory=dict)

    def directories(self) -> set[str]:
        """Every folder that holds a file (no root)."""
        out = set()
        for path in self.files:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                out.add("/".join(parts[:i]))
        return out


@dataclass
class Repo:
    """A repo: its revisions (name -> commit) and whether it is gated (needs a token)."""

    repo_type: str
    repo_id: str
    revisions: dict[str, Commit]
    gated: bool = False

    def commit(self, revision: str) -> Commit | None:
        """The commit of a revision name or a full commit sha."""
        if revision in self.revisions:
            return self.revisions[revision]
        for c in self.revisions.values():
            if c.sha == revision:
                return c
        return None


def _entry(disk: Path, rel: str) -> FileEntry:
    data = disk.read_bytes()
    git_oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    return FileEntry(rel, disk, len(data), hashlib.sha256(data).hexdigest(), git_oid)


def load_repos(root: Path) -> dict[tuple[str, str], Repo]:
    """Every repo under `root`, keyed by (type folder, repo id)."""
    repos: dict[tuple[str, str], Repo] = {}
    for type_dir in sorted(p for p in Path(root).iterdir() if p.name in REPO_TYPES):
        for org in sorted(p for p in type_dir.iterdir() if p.is_dir()):
            for name in sorted(p for p in org.iterdir() if p.is_dir()):
                repo_id = f"{org.name}/{name.name}"
                meta_file = name / "repo.json"
                meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
                revisions = {}
                for rev_dir in sorted(p for p in name.iterdir() if p.is_dir()):
                    revision = unquote(rev_dir.name)
                    files = {}
                    for f in sorted(rev_dir.rglob("*")):
                        if f.is_file():
                            rel = f.relative_to(rev_dir).as_posix()
                            files[rel] = _entry(f, rel)
                    listing = "\n".join(f"{p} {e.sha256}" for p, e in sorted(files.items()))
                    sha = hashlib.sha1(f"{type_dir.name}/{repo_id}@{revision}\n{listing}".encode()).hexdigest()
                    revisions[revision] = Commit(type_dir.name, repo_id, revision, sha, files)
                repos[(type_dir.name, repo_id)] = Repo(type_dir.name, repo_id, revisions, bool(meta.get("gated")))
    return repos


def revision_dir(root: Path, repo_type: str, repo_id: str, revision: str = "main") -> Path:
    """The folder a fixture writes one revision's files into (created)."""
    path = Path(root) / repo_type / repo_id / quote(revision, safe="")
    path.mkdir(parents=True, exist_ok=True)
    return path
