"""The UI's pages, one module per topic, each exposing ``router`` (listed in
:data:`ferroflow.server.ui.PAGES`)."""
