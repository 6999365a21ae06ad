"""Staff dashboard: alerts with acknowledge/resolve, robot status and map, transcripts,
chat with the brain, camera debug view and emergency stop, served by the dashboard node."""
