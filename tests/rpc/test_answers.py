"""gRPC signal RPCs reuse current answers (service/answers.py): the same message as a fresh mapping of the
service's result (timestamp aside), every call recorded, errors unchanged."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from crypto_mlops.rpc.mapping import to_message
from crypto_mlops.rpc.server import create_server, pb2, pb2_grpc
from tests.service.fixtures import make_service


def test_reused_answers_are_the_same_messages_and_each_call_is_recorded(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    server, port = create_server(svc, port=0)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb2_grpc.CryptoServiceStub(channel)
            before = svc.history.count("ml_predictions")
            request = pb2.MLPredictionRequest(symbol="ETHUSDT", include_heuristic=True)
            replies = [stub.GenerateMLPrediction(request, timeout=30) for _ in range(3)]
            direct = svc.ml_signal("ETHUSDT", "1h", 200, True, "binance", record=False)
            for reply in replies:
                expected = to_message(
                    direct.model_copy(update={"timestamp": reply.timestamp}), pb2.MLPredictionResponse
                )
                assert reply == expected
            assert svc.history.count("ml_predictions") == before + 3
            tail = svc.recorder.tail("ml_predictions", 3)
            assert [row["timestamp"] for row in tail] == [r.timestamp for r in replies]

            compare = [stub.CompareSignals(pb2.CompareSignalsRequest(symbol="ETHUSDT"), timeout=30) for _ in range(2)]
            fresh = svc.compare("ETHUSDT", "1h", 200, "binance")
            for reply in compare:
                assert reply == to_message(fresh.model_copy(update={"timestamp": reply.timestamp}), type(reply))

            with pytest.raises(grpc.RpcError) as bad:
                stub.GenerateSignal(pb2.SignalRequest(symbol="BTCUSDT", horizon_min=100000), timeout=30)
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        server.stop(grace=1).wait()
        svc.close()
