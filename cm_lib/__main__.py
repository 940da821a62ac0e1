"""`python -m cm_lib ...`: the command-line entry to every stage."""

from cm_lib.cli import main

raise SystemExit(main())
