"""Training one spec for one task: set-up, epochs (steps, evaluation, checkpoints), finish; and
what a run directory holds (config, recipe, checkpoints) so that it can be resumed exactly."""
