"""A Hugging Face Hub simulator on 127.0.0.1 for testing the course's hub code offline (issue 24).

`build_fixtures(root)` writes tiny model repos and MusicPile-shaped dataset repos under the real hub ids;
`HubServer(root)` serves them; `hub_env(url, hf_home)` is the environment that points the HF clients at it.
By hand: `python -m tests.hubsim --port 8765` (prints the variables to export).
"""

from .env import apply_env, hub_env
from .fixtures import BASE_PR, DATASET_IDS, MODEL_IDS, build_fixtures
from .server import HubServer

__all__ = ["BASE_PR", "DATASET_IDS", "MODEL_IDS", "HubServer", "apply_env", "build_fixtures", "hub_env"]
