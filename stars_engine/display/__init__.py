"""How text is shown to a person: control characters made visible, numbers and titles written the same everywhere."""
