"""Screens of the workbench: chat (the main one), sessions, replay, and the dialogs."""
