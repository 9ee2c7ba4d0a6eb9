"""The API's routes, one module per topic, each exposing ``router`` (included by
:func:`ferroflow.server.app.create_app` under ``/api/v1``)."""
