"""``python -m stars_tui`` is ``stars``."""

from .cli import main

main()
