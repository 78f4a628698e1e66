# crypto-mlops — the two commands a user needs are `make up` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: help install up up-full down check-health logs dashboard-urls test test-fast lint format bench backtest clean

help: ## Show the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

install: $(STAMP) ## Create or update .venv with the package, its console script and generated gRPC stubs
	@$(BIN)/python -m crypto_mlops.rpc.build

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all]'
	@touch $(STAMP)

up: install ## Start the embedded stack in the foreground (Ctrl-C stops everything)
	$(BIN)/crypto-mlops stack up

up-full: install ## Also run PostgreSQL, SeaweedFS S3, MLflow on PG+S3 and Airflow standalone
	$(BIN)/crypto-mlops stack up --full

down: ## Stop a stack started from another shell
	$(BIN)/crypto-mlops stack down

check-health: ## Health of every component
	$(BIN)/crypto-mlops stack health

logs: ## Tail the stack's logs
	$(BIN)/crypto-mlops stack logs

dashboard-urls: ## Print the URLs of every UI and endpoint
	$(BIN)/crypto-mlops stack urls

test: install ## Run the whole suite (integration tests start their own servers)
	$(BIN)/python -m pytest

test-fast: install ## Skip tests that start servers
	$(BIN)/python -m pytest -m "not integration"

lint: install ## ruff + mypy
	$(BIN)/ruff check crypto_mlops tests bench airflow
	$(BIN)/ruff format --check crypto_mlops tests bench airflow
	$(BIN)/mypy crypto_mlops

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix crypto_mlops tests bench airflow
	$(BIN)/ruff format crypto_mlops tests bench airflow

backtest: install ## Backtest every model on the development BTC file
	$(BIN)/crypto-mlops backtest --data ../shared/data/Binance_BTCUSDT_1h.csv --train-frac 0.7

clean: ## Remove local state (data/, mlruns/, .stack/) — not the venv
	rm -rf data mlruns mlartifacts mlflow.db .stack
