"""Kafka streaming: tick producer, stream processor (heuristic + champion model, alerts, dead letters),
topic admin and the Kafka-backed SSE prediction feed. See docs/streaming.md."""
