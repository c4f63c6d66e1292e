"""The Python runtime: configuration, event model, loader, worker pool, HTTP side, server.

Imports nothing from :mod:`kubeless_runtime.tooling` or :mod:`kubeless_runtime.conformance`,
so a runtime image starts with only what serving needs.
"""
