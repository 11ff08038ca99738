"""``python -m nas`` is ``python -m nas.search``."""

from search_space.cli import run_cli

from .search import main

raise SystemExit(run_cli(main))
