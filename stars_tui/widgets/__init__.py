"""Widgets of the workbench; each draws from plain data handed to it by a screen."""
