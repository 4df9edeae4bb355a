"""``python -m educonnect_bridge``: the same as the ``educonnect-bridge`` command."""

from educonnect_bridge.cli import main

main()
