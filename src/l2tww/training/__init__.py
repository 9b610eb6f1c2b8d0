"""Training: the loop (`trainer`), evaluation on a split (`evaluation`), the device, precision,
threads and seeding (`runtime`), frozen sources (`sources`) and released weight files (`weights`,
`weights_diff`)."""
