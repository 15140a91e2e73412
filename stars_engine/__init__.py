"""stars_engine: headless STARS decoding (no Textual import anywhere in here)."""

import os

# OpenMP worker threads that spin while they wait made decoding 15-25x slower
# whenever anything else wanted a core (a UI thread, a second process): 48 tokens
# took 62-97 s instead of 4 s on a 2-core machine. Sleeping waits cost nothing
# measurable when the machine is idle. It must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
