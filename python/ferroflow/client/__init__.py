"""Talking to a ferroflow server over HTTP (``docs/server.md``)."""
