"""The top of the project: the command line and the demo, which compose the three services.

``federation`` is the bottom layer the services share; ``idp``, ``sp_ent`` and ``aten_adapter``
stand on it and ignore each other; only this package knows all of them (the import contracts in
``pyproject.toml`` say so and ``lint-imports`` checks it).
"""
