"""stars_tui: the Textual workbench and the Typer CLI around stars_engine."""
