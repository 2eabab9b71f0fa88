"""Training: config, the loop over an explicit run state, data, run directories, schedule, distributed."""
