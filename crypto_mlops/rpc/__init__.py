"""gRPC adapter: `crypto.CryptoService` (proto in this folder; stubs generated into `generated/`)."""
