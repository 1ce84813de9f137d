"""digittui: train, classify and generate MNIST digits from the terminal.

The engine (data, models, training, generation, checkpoints, export) is plain Python with no UI
imports; `digittui.cli` and `digittui.tui` are thin front ends over it.
"""

__version__ = "0.1.0"
