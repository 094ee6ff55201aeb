"""The shell: pytest's hooks, fixtures and gate files (``plugin``, ``pytest_run``, ``pytest_gates``,
``pytest_state``), the checks before a run (``preflight``) and the ``tunegate`` command (``cli``).

It is the top layer: the one that imports the library (``tunegate.harness``) and the packages
built on it (judges, reports, trainers); nothing imports it.
"""
