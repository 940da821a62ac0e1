"""pytest fixtures: `hub_site` (the running simulator, once per session) and `hub_server` (a test pointed at it).

`hub_server` is the endpoint URL (a str) with helpers: `.env` (the variables for a subprocess or a notebook
kernel), `.hf_home`, `.server` (repos, request log, commit shas), `.offline()` and `.fresh_cache()` (context
managers). During the test HF_ENDPOINT points at 127.0.0.1, HF_HOME is a temporary folder shared by the
session's hub tests, HF_HUB_OFFLINE is unset; everything is restored afterwards.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .env import apply_env, hub_env
from .fixtures import build_fixtures
from .server import HubServer


class HubEndpoint(str):
    """The simulator's URL, plus what a test needs to drive it."""

    server: HubServer
    hf_home: Path

    def __new__(cls, server: HubServer, hf_home: Path) -> HubEndpoint:
        obj = super().__new__(cls, server.url)
        obj.server, obj.hf_home = server, Path(hf_home)
        return obj

    @property
    def url(self) -> str:
        """The endpoint (HF_ENDPOINT)."""
        return str(self)

    @property
    def env(self) -> dict[str, str | None]:
        """Variables for a subprocess or kernel (None: unset): merge into os.environ.copy()."""
        return hub_env(self.url, self.hf_home)

    def child_env(self, base: dict[str, str], offline: bool = False) -> dict[str, str]:
        """`base` (e.g. os.environ) with the simulator's variables applied, for subprocess.run(env=...)."""
        out = dict(base)
        for k, v in hub_env(self.url, self.hf_home, offline).items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = v
        return out

    @contextlib.contextmanager
    def offline(self) -> Iterator[None]:
        """HF_HUB_OFFLINE=1 (cache only) inside the block, in the environment and the libraries."""
        restore = apply_env(hub_env(self.url, self.hf_home, offline=True))
        try:
            yield
        finally:
            restore()

    @contextlib.contextmanager
    def fresh_cache(self) -> Iterator[Path]:
        """A new, empty HF_HOME inside the block (nothing downloaded yet)."""
        home = Path(tempfile.mkdtemp(prefix="hubsim_fresh_home_"))
        old = self.hf_home
        self.hf_home = home
        restore = apply_env(hub_env(self.url, home))
        try:
            yield home
        finally:
            restore()
            self.hf_home = old


@pytest.fixture(scope="session")
def hub_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """The simulator, serving fixture repos built into a temporary folder (once per session)."""
    root = build_fixtures(tmp_path_factory.mktemp("hubsim_repos"))
    server = HubServer(root)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _hub_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hubsim_hf_home")


@pytest.fixture
def hub_server(hub_site: HubServer, _hub_home: Path) -> Iterator[HubEndpoint]:
    """The simulator's endpoint, with HF_ENDPOINT/HF_HOME set and HF_HUB_OFFLINE unset for this test."""
    endpoint = HubEndpoint(hub_site, _hub_home)
    restore = apply_env(hub_env(endpoint.url, _hub_home))
    try:
        yield endpoint
    finally:
        restore()
