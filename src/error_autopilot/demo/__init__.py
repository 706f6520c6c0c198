"""Loopback servers that speak the real Loki/Tempo wire format, and the bundled demo data."""
