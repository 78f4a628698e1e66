"""The retraining pipeline: extract -> process -> validate -> train -> evaluate -> deploy -> notify.

Steps are plain functions (`ingest`, `modelling`, `notify`) passing small JSON manifests; the
runner (`crypto-mlops pipeline run`) and the Airflow DAG `crypto_ml_pipeline` call the same ones.
"""
