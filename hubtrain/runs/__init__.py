"""A task's runs as PaddleHub shaped them: phases with their data and run states, the training
plan, the run events, the best model, checkpoints and resume, all on the engine's loop."""
