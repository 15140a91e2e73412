"""stars_engine: headless STARS decoding (no Textual import anywhere in here)."""

__version__ = "0.1.0"
