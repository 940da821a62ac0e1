"""The grading sandbox: bubblewrap (Debian's `bubblewrap`) around every process that runs a submission.

A sandboxed process sees /usr and /etc, the Python installation and the venv, the pristine copy of the
course (`COURSE`) and the model cache (`CACHE`), all read-only; a fresh tmpfs of `Limits.disk_mb` as
HOME and working directory (gone when it ends); an empty, read-only /tmp; its own /proc and process
ids; no network (only its own loopback); no other process, no environment variable of the teacher's
but the course's own `CM_*` settings. Inside, `enter` applies the limits: as root, bwrap keeps only
CAP_SETUID/CAP_SETGID and `enter` drops to uid `SANDBOX_UID` (so that the process limit counts);
as another user bwrap adds a user namespace. Memory is limited per process (RLIMIT_AS), processes
and threads per sandbox user (RLIMIT_NPROC), file size (RLIMIT_FSIZE) and the tmpfs size.

Without bwrap (macOS, Windows, a Linux without it) `unavailable_reason` says why; the grader then
refuses unless the teacher passes `--no-sandbox`, which runs the same processes with a temporary
HOME and the memory and file-size limits only.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HOME = "/grading/home"
COURSE = "/grading/course"
CACHE = "/grading/cache"
TALK = "/grading/talk"  # a small tmpfs of its own for the grader's exchange files (a full HOME cannot block them)
TALK_MB = 64
SANDBOX_UID = 65534  # nobody: the uid a root grader's notebook sandboxes run as
CHECKER_UID = 65533  # and its checker sandboxes
SYSTEM_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class Limits:
    """What one sandboxed process may use."""

    memory_mb: int = 8192  # address space of each process (RLIMIT_AS)
    processes: int = 256  # processes and threads of the sandbox's user (RLIMIT_NPROC; sandbox only)
    disk_mb: int = 1024  # the writable HOME (tmpfs size) and the largest file (RLIMIT_FSIZE)

    def as_dict(self) -> dict[str, int]:
        """The limits as JSON-ready data (what `enter` reads)."""
        return asdict(self)


@dataclass
class Launch:
    """How to start one grading process: argv, environment and working directory."""

    argv: list[str]
    env: dict[str, str]
    cwd: str


def _python() -> str:
    """The interpreter the sandbox runs: the venv's python, by a path that exists inside the sandbox."""
    if sys.prefix != sys.base_prefix:
        return str(Path(sys.prefix).resolve() / "bin" / "python")
    return str(Path(sys.executable).resolve())


def _python_trees() -> list[Path]:
    """The Python installation and the venv, outside /usr (which is bound anyway)."""
    trees = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(_python()).resolve().parent.parent}
    return sorted(t for t in trees if not t.is_relative_to("/usr"))


def _outermost(paths: list[Path]) -> list[Path]:
    """`paths` without those inside another one of them."""
    return [p for p in paths if not any(p != q and p.is_relative_to(q) for q in paths)]


def process_env(home: str, course: str, cache: str | None, talk: str) -> dict[str, str]:
    """The environment of a grading process: the course's CM_* settings, offline, smoke mode, its own HOME."""
    env = {k: v for k, v in os.environ.items()
           if (k.startswith("CM_") and k not in ("CM_COURSE_REPO", "CM_RUNS_DIR", "CM_CACHE_DIR"))
           or k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "LANG", "LC_ALL", "TZ")}
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update({"HOME": home, "TMPDIR": f"{home}/tmp", "USER": "student", "LOGNAME": "student",
                "PATH": f"{Path(_python()).parent}:/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": course,
                "PYTHONNOUSERSITE": "1", "CM_SMOKE": "1", "CM_RUNS_DIR": f"{home}/runs",
                "CM_CACHE_DIR": cache or f"{home}/cache", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "CM_GRADE_TALK": talk})
    return env


class Sandbox:
    """Starts grading processes: in bubblewrap (`enabled`), or plainly with a temporary HOME (`--no-sandbox`)."""

    def __init__(self, course: Path, cache: Path | None, enabled: bool = True, limits: Limits | None = None) -> None:
        self.course = course
        self.cache = cache if cache is not None and cache.is_dir() else None
        self.enabled = enabled
        self.limits = limits or Limits()

    def launch(self, module: str, home: Path | None = None, course: Path | None = None) -> Launch:
        """argv/env/cwd for `python -m module`; `home` is the temporary HOME without a sandbox.

        `course` (default: the pristine copy) is what the process imports cm_lib from without a sandbox.
        """
        cmd = [_python() if self.enabled else sys.executable, "-m", module]
        if not self.enabled:
            assert home is not None, "a process without a sandbox needs a temporary HOME"
            env = process_env(str(home), str(course or self.course), str(self.cache) if self.cache else None,
                              f"{home}/.cm-grade")
            return Launch(cmd, env, str(home))
        env = process_env(HOME, COURSE, f"{HOME}/cache", TALK)
        return Launch(self._bwrap(env) + cmd, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, "/")

    def _bwrap(self, env: dict[str, str]) -> list[str]:
        """bwrap's options: namespaces, read-only binds, the HOME tmpfs, the environment."""
        a = [shutil.which("bwrap") or "bwrap", "--die-with-parent", "--new-session", "--unshare-pid",
             "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if os.geteuid() == 0:  # privileged bwrap: no user namespace; `enter` drops to SANDBOX_UID
            a += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            a += ["--unshare-user", "--disable-userns"]
        a += ["--ro-bind", "/usr", "/usr"]
        for name in SYSTEM_DIRS:
            path = Path("/") / name
            if path.is_symlink():
                a += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                a += ["--ro-bind", str(path), str(path)]
        a += ["--ro-bind", "/etc", "/etc"]
        binds = [(t, t) for t in _outermost(_python_trees())] + [(self.course, Path(COURSE))]
        if self.cache is not None:
            binds.append((self.cache, Path(CACHE)))
        made: set[Path] = set()
        for _, target in binds:  # parents with the usual mode (bwrap copies a 0700 /root otherwise)
            for parent in reversed(target.parents):
                if parent != Path("/") and parent not in made and not parent.is_relative_to("/usr"):
                    a += ["--perms", "0755", "--dir", str(parent)]
                    made.add(parent)
        for source, target in binds:
            a += ["--ro-bind", str(source), str(target)]
        a += ["--proc", "/proc", "--dev", "/dev", "--dir", "/tmp",
              "--perms", "1777", "--size", str(self.limits.disk_mb * 1024 * 1024), "--tmpfs", HOME,
              "--perms", "1777", "--size", str(TALK_MB * 1024 * 1024), "--tmpfs", TALK,
              "--remount-ro", "/", "--clearenv"]
        for key, value in sorted(env.items()):
            a += ["--setenv", key, value]
        return a + ["--chdir", HOME]

    def setup(self, uid: int = SANDBOX_UID) -> dict[str, Any]:
        """What `enter` needs to know, sent to the process as part of its first message.

        `uid` is the user a root grader's sandbox runs as: one per role, so that one sandbox's processes
        do not count against another's process limit.
        """
        return {"sandboxed": self.enabled, "limits": self.limits.as_dict(), "uid": uid,
                "cache_source": CACHE if self.enabled and self.cache is not None else None}

    def probe(self) -> str | None:
        """None when a sandboxed process starts here, else the one-line reason it does not."""
        if not self.enabled:
            return None
        if not sys.platform.startswith("linux"):
            return f"no sandbox on {sys.platform}: the grader's sandbox is bubblewrap, which needs Linux"
        if shutil.which("bwrap") is None:
            return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
        argv = self._bwrap({"PATH": "/usr/bin:/bin"}) + [_python(), "-c", "pass"]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"bubblewrap did not start: {err}"
        if done.returncode != 0:
            lines = (done.stderr or "").strip().splitlines() or [f"exit status {done.returncode}"]
            return f"bubblewrap failed here: {lines[-1][:200]}"
        return None


def unavailable_reason() -> str | None:
    """Why no sandbox can run on this machine (one line), or None when bubblewrap works."""
    with tempfile.TemporaryDirectory(prefix="cm-grade-probe-") as tmp:
        return Sandbox(Path(tmp), None).probe()


def enter(setup: dict[str, Any]) -> None:
    """Inside a grading process, first thing: drop root, apply the limits, prepare HOME and the cache view."""
    import resource

    limits = setup.get("limits") or {}
    if setup.get("sandboxed") and os.geteuid() == 0:
        uid = int(setup.get("uid", SANDBOX_UID))
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    memory = int(limits.get("memory_mb", 0)) * 1024 * 1024
    disk = int(limits.get("disk_mb", 0)) * 1024 * 1024
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    if disk:
        resource.setrlimit(resource.RLIMIT_FSIZE, (disk, disk))
    if setup.get("sandboxed") and limits.get("processes"):
        n = int(limits["processes"])
        resource.setrlimit(resource.RLIMIT_NPROC, (n, n))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    home = Path(os.environ["HOME"])
    for sub in ("tmp", "runs"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    Path(os.environ["CM_GRADE_TALK"]).mkdir(parents=True, exist_ok=True)
    if setup.get("cache_source"):
        shadow_cache(Path(setup["cache_source"]), Path(os.environ["CM_CACHE_DIR"]))
    become_subreaper()


def shadow_cache(source: Path, dest: Path) -> None:
    """A writable cache at `dest` whose existing entries (two levels deep) link to the read-only `source`.

    Converted models and tokenizers already in the teacher's cache are read in place; anything a lesson
    builds anew lands in `dest` (the sandbox's tmpfs) and is gone with it.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if not source.is_dir():
        return
    for entry in source.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            (dest / entry.name).mkdir(exist_ok=True)
            for child in entry.iterdir():
                (dest / entry.name / child.name).symlink_to(child)
        else:
            (dest / entry.name).symlink_to(entry)


def become_subreaper() -> None:
    """Make orphaned descendants re-parent to this process (Linux), so that `stop_strays` finds them."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def descendants(root: int) -> list[int]:
    """Process ids below `root` (read from /proc; [] where there is no /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            out.append(pid)
            todo.append(pid)
    return out


def stop_strays(keep: set[int], rounds: int = 20) -> int:
    """Stop, then kill, every descendant of this process but `keep` (forked copies of a kept one too); how many."""
    import time

    stopped: set[int] = set()
    for _ in range(rounds):
        strays = [p for p in descendants(os.getpid()) if p not in keep]
        if not strays:
            break
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in strays:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        stopped.update(strays)
        time.sleep(0.02)
        for pid in stopped:  # collect the ones re-parented to this process (its subreaper)
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
    return len(stopped)
