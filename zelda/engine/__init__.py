"""Training machinery: the epoch loop and the pieces it calls (device and precision,
distributed, checkpoints, interrupts, schedules, metrics, seeding)."""
