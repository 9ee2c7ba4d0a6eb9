"""Helpers shared by the test packages (databases, servers)."""
