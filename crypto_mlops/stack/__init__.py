"""The local stack: real servers as child processes (services.py), port helpers (ports.py)."""
