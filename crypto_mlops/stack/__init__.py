"""The local stack and the real servers behind the tests.

Servers (one per module, each a `process.ManagedProcess`): postgres.py, seaweed.py, tansu.py,
mlflow_server.py (+ mlflow_exec.py: one process), airflow_standalone.py; our own commands: child.py;
ports served by another component's process: endpoint.py; port helpers: ports.py.
`make up`: topology.py declares the components (context.py: what they share, serving.py: REST,
GraphQL and gRPC in one process or three, exchange.py: live prices or the simulator), supervisor.py
runs them (`python -m crypto_mlops.stack up`), statefile.py, status.py, table.py and shutdown.py
serve `stack health|urls|down` from other shells; health.py probes.
"""
