"""`python -m tests.hubsim [--port 8765] [--root DIR]`: build the fixtures and serve them until Ctrl-C."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from .env import hub_env
from .fixtures import build_fixtures
from .server import HubServer


def main() -> int:
    """Build (or reuse) the fixture repos and serve them on 127.0.0.1."""
    p = argparse.ArgumentParser(prog="python -m tests.hubsim", description=__doc__)
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--root", help="fixture folder (reused if it holds repos; default: a new temporary folder)")
    p.add_argument("--hf-home", help="HF_HOME to print for clients (default: a new temporary folder)")
    args = p.parse_args()
    root = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="hubsim_repos_"))
    if not (root / "models").is_dir():
        print(f"building fixtures in {root} ...", flush=True)
        build_fixtures(root)
    server = HubServer(root, port=args.port)
    hf_home = Path(args.hf_home) if args.hf_home else Path(tempfile.mkdtemp(prefix="hubsim_hf_home_"))
    print(f"hub simulator serving {root} at {server.url}; point clients at it with:")
    for key, value in hub_env(server.url, hf_home).items():
        print(f"unset {key}" if value is None else f"export {key}={value}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
