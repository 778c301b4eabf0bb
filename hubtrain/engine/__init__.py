"""The engine: the loop, the step and their events, and what any run needs around them
(checkpoints, resume, non-finite checks, signals, reporting). It knows no task."""
