"""The engine: hapi's loop driven through one callback, checkpoints, resume and reporting."""
