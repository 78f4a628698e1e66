-- Run once by the postgres image on an empty data volume (as POSTGRES_USER, who owns them).
-- MLflow and Airflow both keep an `alembic_version` table, so each gets its own database.
-- POSTGRES_DB (default cryptodb) is created by the image itself; the guards make this re-runnable.
SELECT 'CREATE DATABASE mlflow' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'mlflow')\gexec
SELECT 'CREATE DATABASE airflow' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'airflow')\gexec
SELECT 'CREATE DATABASE cryptodb' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'cryptodb')\gexec
