"""Clients of the ferroflow server: :mod:`ferroflow.client.http` (the API over HTTP)
and :mod:`ferroflow.client.reads` (what the command line reads, from a server)."""
