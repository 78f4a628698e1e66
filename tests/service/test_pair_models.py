"""The model book: per-pair resolution (champion-<pair> -> champion -> baseline), per-pair hot reload,
and answers that name the model and the alias (loaders and the registry injected)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crypto_mlops.config import get_settings
from crypto_mlops.models.inference import baseline_predictor
from crypto_mlops.models.registry import lookup_aliases, pair_alias, pair_slug, target_aliases
from crypto_mlops.service.model_holder import ModelHolder
from crypto_mlops.service.pair_models import PairModels
from tests.service.fixtures import make_service
from tests.service.test_model_holder import Named


class Aliases:
    """Stands in for the registry: alias -> version, and the model behind each version."""

    def __init__(self) -> None:
        self.versions: dict[str, str] = {}
        self.types: dict[str, str] = {}
        self.down = False
        self.broken: set[str] = set()
        self.probes = 0
        self.loads: list[str] = []

    def probe(self, _settings: Any) -> dict[str, str]:
        self.probes += 1
        if self.down:
            raise ConnectionError("MLflow unreachable")
        return dict(self.versions)

    def loader(self, alias: str) -> Any:
        def load(_settings: Any) -> Named:
            self.loads.append(alias)
            if self.down:
                raise ConnectionError("MLflow unreachable")
            if alias not in self.versions or alias in self.broken:
                raise LookupError(f"no model version has alias {alias}")
            version = self.versions[alias]
            return Named(version, self.types.get(version, "har_x"))

        return load

    def book(self, **kwargs: Any) -> PairModels:
        settings = get_settings()
        baseline = lambda name: Named("0", name, model_name=f"baseline-{name}")  # noqa: E731

        def holder(alias: str) -> ModelHolder:
            return ModelHolder(settings, self.loader(alias), baseline, alias=alias)

        return PairModels(settings, holder("champion"), make_holder=holder, alias_probe=self.probe, **kwargs)


def test_alias_names() -> None:
    settings = get_settings()
    assert pair_slug("BTC/USDT") == pair_slug("btcusdt") == pair_slug("BTC/USDT:USDT") == "btcusdt"
    assert pair_alias("ETH/USDT") == "champion-ethusdt"
    assert pair_alias("sol-usdt", "prod") == "prod-solusdt"
    assert lookup_aliases(["ETH/USDT"], settings) == ["champion-ethusdt", "champion"]
    assert lookup_aliases(["BTC/USDT", "ETH/USDT"], settings) == lookup_aliases([], settings) == ["champion"]
    # the default pair keeps moving the global champion as before; another pair only its own; pooled the global
    assert target_aliases(["BTC/USDT"], settings) == ["champion-btcusdt", "champion"]
    assert target_aliases(["ETH/USDT"], settings) == ["champion-ethusdt"]
    assert target_aliases(["BTC/USDT", "ETH/USDT"], settings) == ["champion"]


def test_resolution_order_pair_alias_then_global_then_baseline() -> None:
    registry = Aliases()
    book = registry.book()
    served = book.serve("ETH/USDT")
    assert served.alias == "baseline:har" and served.predictor.model_type == "har"  # empty registry

    registry = Aliases()
    registry.versions = {"champion": "1"}
    book = registry.book()
    assert (book.serve("ETH/USDT").alias, book.get("ETH/USDT").model_version) == ("champion", "1")

    registry = Aliases()
    registry.versions = {"champion": "1", "champion-ethusdt": "2"}
    book = registry.book()
    eth, sol = book.serve("ETH/USDT"), book.serve("SOL/USDT")
    assert (eth.alias, eth.predictor.model_version) == ("champion-ethusdt", "2")
    assert (sol.alias, sol.predictor.model_version) == ("champion", "1")
    assert registry.probes == 1  # the aliases are read once, not per request

    registry = Aliases()
    registry.versions = {"champion-ethusdt": "2"}  # a pair champion but no global one
    book = registry.book()
    assert book.serve("ETH/USDT").alias == "champion-ethusdt"
    assert book.serve("BTC/USDT").alias == "baseline:har"


def test_a_pair_alias_on_the_global_version_shares_the_loaded_model() -> None:
    registry = Aliases()
    registry.versions = {"champion": "1", "champion-btcusdt": "1"}
    book = registry.book()
    served = book.serve("BTC/USDT")
    assert served.alias == "champion-btcusdt" and served.holder is book.default
    assert registry.loads == ["champion"] and book.holders == {}


def test_a_pair_champion_that_cannot_load_falls_back_to_the_global_one() -> None:
    registry = Aliases()
    registry.versions = {"champion": "1", "champion-ethusdt": "2"}
    registry.broken = {"champion-ethusdt"}
    book = registry.book()
    served = book.serve("ETH/USDT")
    assert (served.alias, served.predictor.model_version) == ("champion", "1")


def test_registry_down_at_start_serves_the_baseline_then_recovers_on_poll() -> None:
    registry = Aliases()
    registry.versions = {"champion": "1", "champion-ethusdt": "2"}
    registry.down = True
    book = registry.book()
    assert book.serve("ETH/USDT").alias == "baseline:har"
    registry.down = False
    assert [r.model_version for r in book.refresh_if_promoted()] == ["1"]
    assert book.serve("ETH/USDT").alias == "champion-ethusdt"


def test_per_pair_reload_one_lookup_per_poll_and_only_moved_aliases_reload() -> None:
    registry = Aliases()
    registry.versions = {"champion": "1", "champion-ethusdt": "2", "champion-solusdt": "3"}
    book = registry.book()
    changes: list[str] = []
    book.subscribe(lambda p, _fb: changes.append(p.model_version))
    for pair in ("BTC/USDT", "ETH/USDT", "SOL/USDT"):
        book.get(pair)
    assert sorted(registry.loads) == ["champion", "champion-ethusdt", "champion-solusdt"]
    probes = registry.probes

    assert book.refresh_if_promoted() == []  # nothing moved: nothing reloads
    registry.versions["champion-ethusdt"] = "4"
    results = book.refresh_if_promoted()
    assert [r.model_version for r in results] == ["4"]
    assert registry.probes == probes + 2  # one registry call per poll, however many pairs are loaded
    assert book.get("ETH/USDT").model_version == "4"
    assert book.get("SOL/USDT").model_version == "3" and book.get("BTC/USDT").model_version == "1"
    assert "4" in changes

    registry.versions["champion"] = "5"
    del registry.versions["champion-solusdt"]  # SOL has no champion of its own any more: the global one serves it
    assert [r.model_version for r in book.refresh_if_promoted()] == ["5"]
    assert book.serve("SOL/USDT").alias == "champion" and book.get("SOL/USDT").model_version == "5"
    assert set(book.holders) == {"champion-ethusdt"}

    registry.down = True
    assert book.refresh_if_promoted() == []  # registry unreachable: everything keeps serving
    assert book.get("ETH/USDT").model_version == "4"


def test_the_book_is_bounded() -> None:
    registry = Aliases()
    pairs = ["ETH/USDT", "SOL/USDT", "ADA/USDT"]
    registry.versions = {"champion": "1", **{pair_alias(p): str(i + 2) for i, p in enumerate(pairs)}}
    book = registry.book(max_holders=2)
    for pair in pairs:
        assert book.serve(pair).alias == pair_alias(pair)
    assert list(book.holders) == ["champion-solusdt", "champion-adausdt"]  # least recently used went first
    assert book.get("ETH/USDT").model_version == "2"  # loaded again on demand


def test_reload_reloads_every_loaded_pair() -> None:
    registry = Aliases()
    registry.versions = {"champion": "1", "champion-ethusdt": "2"}
    book = registry.book()
    book.get("ETH/USDT")
    registry.versions = {"champion": "3", "champion-ethusdt": "4"}
    result = book.reload()
    assert result.success and result.model_version == "3" and "champion-ethusdt: v4" in result.message
    assert book.get("ETH/USDT").model_version == "4"


def test_info_names_the_pair_and_the_alias() -> None:
    registry = Aliases()
    registry.versions = {"champion": "1", "champion-ethusdt": "2"}
    book = registry.book()
    info = book.info("ETH/USDT")
    assert (info.symbol, info.model_alias, info.model_version) == ("ETH/USDT", "champion-ethusdt", "2")
    assert info.model_uri == "models:/crypto-predictor@champion-ethusdt"
    info = book.info()
    assert (info.symbol, info.model_alias, info.model_version) == ("BTC/USDT", "champion", "1")


def test_single_holder_book_never_reads_the_registry() -> None:
    holder = ModelHolder(get_settings(), load_champion=lambda _s: Named("7", "har"), load_baseline=baseline_predictor)
    book = PairModels.single(holder)
    assert book.serve("ETH/USDT").alias == "champion" and book.get("SOL/USDT").model_version == "7"
    assert book.aliases() == {}


@pytest.fixture()
def two_pair_service(tmp_path: Path) -> Any:
    """A real service (synthetic candles) whose ETH has its own champion; every model is a fitted baseline."""
    registry = Aliases()
    registry.versions = {"champion": "1", "champion-ethusdt": "2"}
    settings = get_settings()
    models = {"champion": baseline_predictor("har"), "champion-ethusdt": baseline_predictor("ewma")}

    def holder(alias: str) -> ModelHolder:
        return ModelHolder(settings, lambda _s: models[alias], baseline_predictor, alias=alias)

    book = PairModels(settings, holder("champion"), make_holder=holder, alias_probe=registry.probe)
    svc = make_service(tmp_path, model_book=book)
    yield svc
    svc.close()


def test_every_answer_names_the_model_and_alias_of_its_pair(two_pair_service: Any) -> None:
    svc = two_pair_service
    btc = svc.ml_signal("BTCUSDT", "1h", 200, record=False)
    eth = svc.ml_signal("ETHUSDT", "1h", 200, record=False)
    assert (btc.model_alias, btc.ml_prediction.model_alias, btc.ml_prediction.model_type) == (
        "champion",
        "champion",
        "har",
    )
    assert (eth.model_alias, eth.ml_prediction.model_alias, eth.ml_prediction.model_type) == (
        "champion-ethusdt",
        "champion-ethusdt",
        "ewma",
    )
    assert eth.model_name == eth.ml_prediction.model_name == "baseline-ewma"
    compare = svc.compare("ETHUSDT")
    assert (compare.ml.model_alias, compare.ml.model_name) == ("champion-ethusdt", "baseline-ewma")
    chart = svc.chart("ETHUSDT", "1h", 200, points=4)
    assert (chart.model_alias, chart.model_type) == ("champion-ethusdt", "ewma")
    rows = {row.pair: row for row in svc.screener.screen("BTC/USDT,ETH/USDT").forecasts}
    assert rows["ETH/USDT"].model_alias == "champion-ethusdt" and rows["BTC/USDT"].model_alias == "champion"
    assert svc.model_info("ethusdt").model_alias == "champion-ethusdt"
    assert svc.model_info().model_alias == "champion"
    event = svc.prediction_event("ETHUSDT")
    assert event["ml_prediction"]["model_alias"] == "champion-ethusdt"


def test_prometheus_lists_the_model_serving_each_loaded_alias(two_pair_service: Any) -> None:
    svc = two_pair_service
    svc.ml_signal("ETHUSDT", "1h", 200, record=False)  # loads ETH's own champion
    text = svc.prometheus().decode()
    served = sorted(line for line in text.splitlines() if line.startswith("crypto_served_model_info{"))
    assert len(served) == 2, text
    assert 'alias="champion"' in served[0] and 'model_type="har"' in served[0]
    assert 'alias="champion-ethusdt"' in served[1] and 'model_type="ewma"' in served[1]
    assert all('engine="numpy"' in line and 'fallback="false"' in line and line.endswith(" 1.0") for line in served)


def test_rest_and_graphql_model_info_take_a_symbol(two_pair_service: Any) -> None:
    from fastapi.testclient import TestClient

    from crypto_mlops.api.app import create_app

    with TestClient(create_app(two_pair_service, start_service=False)) as client:
        eth = client.get("/v1/ml/model/info", params={"symbol": "ETHUSDT"}).json()
        assert (eth["symbol"], eth["model_alias"], eth["model_version"]) == ("ETH/USDT", "champion-ethusdt", "0")
        assert client.get("/v1/ml/model/info").json()["model_alias"] == "champion"
        query = '{ modelInfo(symbol: "ETH/USDT") { modelAlias symbol } }'
        answer = client.post("/graphql", json={"query": query}).json()
        assert answer["data"]["modelInfo"] == {"modelAlias": "champion-ethusdt", "symbol": "ETH/USDT"}
        signal = client.post("/v1/crypto/ml-signal", json={"symbol": "ETHUSDT"}).json()
        assert signal["model_alias"] == signal["ml_prediction"]["model_alias"] == "champion-ethusdt"


def test_stored_answers_follow_the_model_of_their_own_pair(two_pair_service: Any) -> None:
    from crypto_mlops.service.answers import MLArgs, answers_for

    svc = two_pair_service
    answers = answers_for(svc)
    eth_args, btc_args = (MLArgs(s, "1h", 200, False, "binance") for s in ("ETHUSDT", "BTCUSDT"))
    eth, _ = answers.ml_signal(eth_args, "rest")
    btc, _ = answers.ml_signal(btc_args, "rest")
    assert eth.result.model_alias == "champion-ethusdt" and btc.result.model_alias == "champion"
    assert answers.lookup_ml_signal(eth_args) is eth and answers.lookup_ml_signal(btc_args) is btc
    eth_holder = svc.models.holders["champion-ethusdt"]
    eth_holder._load_champion = lambda _s: baseline_predictor("ewma")  # a new load gives a new model object
    assert eth_holder.reload().success  # ETH's champion reloaded: only ETH's stored answer is stale
    assert answers.lookup_ml_signal(eth_args) is None
    assert answers.lookup_ml_signal(btc_args) is btc
    assert svc.models.peek("ETHUSDT") is eth_holder.current
