"""``python -m ferroflow``: the ``ferroflow`` command line (see :mod:`ferroflow.cli`)."""

from ferroflow.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
