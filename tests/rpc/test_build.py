"""The stub build step: generated from the proto, importable inside the package, stamped by hash."""

from __future__ import annotations

from crypto_mlops.rpc import build


def test_generate_writes_package_relative_stubs() -> None:
    out = build.generate(force=True)
    assert build.up_to_date()
    grpc_module = (out / "crypto_service_pb2_grpc.py").read_text()
    assert "from . import crypto_service_pb2" in grpc_module
    assert (out / ".proto.sha256").read_text() == build.proto_hash()


def test_stubs_expose_the_seed_service_and_messages() -> None:
    from crypto_mlops.rpc.stubs import load

    pb2, _ = load()
    service = pb2.DESCRIPTOR.services_by_name["CryptoService"]
    assert service.full_name == "crypto.CryptoService"
    assert {m.name for m in service.methods} == {
        "GetOHLCV",
        "GenerateSignal",
        "GenerateMLPrediction",
        "CompareSignals",
        "HealthCheck",
        "StreamPrices",
        "Screener",  # added after the seed
    }
    fields = {f.name: f.number for f in pb2.MLPrediction.DESCRIPTOR.fields}
    seed = [
        "prediction",
        "current_volatility",
        "volatility_regime",
        "risk_level",
        "confidence",
        "prediction_timestamp",
        "error",
    ]
    assert [fields[name] for name in seed] == list(range(1, 8))  # seed fields keep their numbers


def test_seed_message_names_and_field_numbers_are_kept() -> None:
    from crypto_mlops.rpc.stubs import load

    pb2, _ = load()
    service = pb2.DESCRIPTOR.services_by_name["CryptoService"]
    health = service.methods_by_name["HealthCheck"]
    assert (health.input_type.name, health.output_type.name) == ("HealthCheckRequest", "HealthCheckResponse")
    seed = {
        "OHLCVData": ["timestamp", "open", "high", "low", "close", "volume"],
        "SignalResponse": [
            "symbol",
            "horizon_min",
            "risk_score",
            "nowcast_ret",
            "vol_regime",
            "timestamp",
            "method",
            "explanation",
            "error",
        ],
        "CompareSignalsResponse": ["symbol", "timestamp", "heuristic", "ml", "comparison", "error"],
        "HealthCheckResponse": ["status", "ml_available", "timestamp", "version"],
        "StreamRequest": ["symbols", "update_interval_ms"],
        "PriceUpdate": ["symbol", "price", "change_24h", "volume_24h", "timestamp", "volatility", "regime"],
    }
    for message, names in seed.items():
        numbers = {f.name: f.number for f in pb2.DESCRIPTOR.message_types_by_name[message].fields}
        assert [numbers[n] for n in names] == list(range(1, len(names) + 1)), message
