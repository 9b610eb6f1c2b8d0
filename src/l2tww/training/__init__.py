"""Training: the loop (`trainer`), the device, precision, threads and seeding (`runtime`), frozen
sources (`sources`) and released weight files (`weights`, `weights_diff`)."""
