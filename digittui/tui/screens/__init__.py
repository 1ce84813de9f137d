"""One module per screen; the app switches between them as modes, so each keeps its state."""
