"""The run's threads and what they share: the frame slot, the stats, the systemd watchdog."""
