"""What runs a compiled spec: data, training, checkpoints, visualization and reports."""
