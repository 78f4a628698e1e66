#!/usr/bin/env bash
# Backtest VolTargetStrategy with forecast-sized stakes against the same rule with fixed stakes
# (and without forecasts at all) on the development candles. Research only: not trading advice.
#
#   integrations/freqtrade/compare_backtests.sh [WORKDIR] [FROM] [TO]
#
# Needs: the project installed (crypto-mlops on PATH or CRYPTO_MLOPS), a python with freqtrade
# (FREQTRADE_PYTHON, default .cache/freqtrade-venv/2026.9/bin/python, which the integration test
# builds), and the candles in ../shared/data (SHARED_DATA).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${1:-$root/.cache/freqtrade-compare}"
from="${2:-2019-01-01}"
to="${3:-2021-06-09 23:00}"
data="${SHARED_DATA:-$root/../shared/data}"
cli="${CRYPTO_MLOPS:-crypto-mlops}"
ft_python="${FREQTRADE_PYTHON:-$root/.cache/freqtrade-venv/2026.9/bin/python}"
timerange="$(date -u -d "$from" +%Y%m%d)-$(date -u -d "$to" +%Y%m%d)"

mkdir -p "$work/user_data/strategies" "$work/user_data/data/binance"
cp "$here/VolTargetStrategy.py" "$here/crypto_mlops_forecasts.py" "$work/user_data/strategies/"
for pair in BTC ETH; do
  "$cli" forecasts candles --data "$data/Binance_${pair}USDT_1h.csv" --out "$work/user_data/data/binance/${pair}_USDT-1h.feather"
done
"$cli" forecasts export --data "$data/Binance_BTCUSDT_1h.csv" --data "$data/Binance_ETHUSDT_1h.csv" \
  --from "$from" --to "$to" --model har_x --out "$work/user_data/forecasts/har_x.feather"

cd "$work"
for variant in forecast fixed removed; do
  python3 - "$here/config.backtest.json" "$variant" > "config-$variant.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
variant = sys.argv[2]
if variant == "fixed":
    config["crypto_mlops"]["size_by_forecast"] = False
if variant == "removed":
    config["crypto_mlops"]["forecasts"] = "user_data/forecasts/removed.feather"
print(json.dumps(config))
PY
  mkdir -p "results-$variant"
  "$ft_python" "$here/offline.py" backtesting --config "config-$variant.json" --strategy VolTargetStrategy \
    --timerange "$timerange" --fee 0.001 --export trades --backtest-directory "results-$variant" \
    2>&1 | tee "backtest-$variant.log" | sed -n '/SUMMARY METRICS/,$p'
done
