"""Images, catalog and local deploys on a Docker engine (``build``, ``deploy``, ``call``, ...)."""
