"""The Kubeless runtime conformance suite: does a runtime image keep the runtime contract?

``kubeless-runtime conformance --runtime R --image I [--level custom|function|full]`` and
``pytest --pyargs kubeless_runtime.conformance --kubeless-runtime R --kubeless-image I`` run the
same cases: they deploy the small functions of ``functions/<language>/`` into the image with
the local deploy machinery (a Docker engine is all they need) and check the contract clause by
clause.

Modules, one concern each: :mod:`.cases` (what is checked, where the contract says it, how to
fix it), :mod:`.runner` (deployments, running, clean-up), :mod:`.report` (table, JUnit XML,
JSON), :mod:`.function_sets` (the per-language functions), :mod:`.promtext` (/metrics
parsing and deltas), :mod:`.httpclient` (loopback HTTP), :mod:`.cli` and :mod:`.plugin`.

Importing this package imports nothing else: the pytest plugin is loaded by every pytest run.
"""
