"""The local stack and the real servers behind the tests.

Servers (one per module, each a `process.ManagedProcess`): postgres.py, seaweed.py, tansu.py,
mlflow_server.py, airflow_standalone.py; our own commands: child.py; port helpers: ports.py.
`make up`: topology.py declares the components, supervisor.py runs them, statefile.py, status.py,
table.py and shutdown.py serve `stack health|urls|down` from other shells; health.py probes.
"""
