"""The terminal UI: a Textual app over the engine. Nothing here imports torch at module level, so the
first frame appears while the models load in a thread worker."""
