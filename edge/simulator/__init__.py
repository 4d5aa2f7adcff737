"""edge/simulator."""
