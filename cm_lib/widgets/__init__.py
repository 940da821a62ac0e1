"""Interactive lessons, one module per widget: the ABC playground (notebook 01), the composer's studio and the blind
listening test (notebook 05), the question explorer (notebook 06).

Each module builds what its widget shows with pure functions (unit-tested without a browser) and wires the
widgets up; the logic beneath lives in the library: requests and prompts in cm_lib.plan.studio, sampling and
measuring in cm_lib.generate.studio, the listening store in cm_lib.metrics.listening, question scoring in
cm_lib.bench.explore. Each widget part carries a stable CSS class (`cm-...`) for the browser test.
"""

from cm_lib.widgets.common import audio_html
from cm_lib.widgets.explorer import explorer_html, question_explorer
from cm_lib.widgets.listening import listening_test
from cm_lib.widgets.playground import (
    PLAYGROUND_LEVEL,
    PlaygroundView,
    abc_playground,
    bar_spans,
    highlight_html,
    playground_presets,
    playground_view,
)
from cm_lib.widgets.studio import (
    CONSTRAINTS,
    STUDIO_FORMS,
    STUDIO_KEYS,
    STUDIO_METERS,
    STUDIO_METRICS,
    StudioView,
    composer_studio,
    studio_check,
    studio_generate,
)

__all__ = [
    "CONSTRAINTS",
    "PLAYGROUND_LEVEL",
    "STUDIO_FORMS",
    "STUDIO_KEYS",
    "STUDIO_METERS",
    "STUDIO_METRICS",
    "PlaygroundView",
    "StudioView",
    "abc_playground",
    "audio_html",
    "bar_spans",
    "composer_studio",
    "explorer_html",
    "highlight_html",
    "listening_test",
    "playground_presets",
    "playground_view",
    "question_explorer",
    "studio_check",
    "studio_generate",
]
