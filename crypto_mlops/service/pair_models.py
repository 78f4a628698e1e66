"""The model book: which model serves each pair, resolved `champion-<pair>` -> `champion` -> baseline.

One `ModelHolder` per alias in use, created lazily and bounded (`MAX_PAIR_HOLDERS`, least recently used
first out): the global `champion` serves every pair without a champion of its own; a pair whose
`champion-<pair>` alias exists gets a holder for it (unless that alias points at the global champion's
version: then the one loaded model serves both). When a pair's own champion cannot be loaded, the
pair falls back to the global champion, and that one to the HAR baseline fitted on the request's
candles. Every answer says which: `Served.alias` is `champion-btcusdt`, `champion` or `baseline:har`.

The registry's aliases are read in one call (`registry.alias_map`) on first use and on every poll
(`refresh_if_promoted`), so polling costs one registry lookup however many pairs are loaded; only a
holder whose alias moved reloads.

A book built around one injected holder (`PairModels.single`, what tests and hosts that pass a
`model_holder` get) serves every pair from that holder and never reads the registry itself.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from crypto_mlops.config import Settings
from crypto_mlops.models.contract import Predictor
from crypto_mlops.models.registry import pair_alias
from crypto_mlops.service.model_holder import ModelCallback, ModelHolder, alias_loader
from crypto_mlops.service.results import ModelInfo, ReloadResult

log = logging.getLogger(__name__)

MAX_PAIR_HOLDERS = 32  # pair champions kept loaded at once (a BiLSTM is a few MB)

AliasProbe = Callable[[Settings], Mapping[str, str]]  # every alias of the registered model -> version
HolderFactory = Callable[[str], ModelHolder]  # alias -> a holder that loads it


def registry_aliases(settings: Settings) -> dict[str, str]:
    from crypto_mlops.models.registry import alias_map, get_client

    return alias_map(get_client(settings), settings.model_name)


@dataclass(frozen=True)
class Served:
    """The model serving one pair, the alias that resolved, and the holder it came from."""

    predictor: Predictor
    alias: str
    holder: ModelHolder


class PairModels:
    def __init__(
        self,
        settings: Settings,
        default: ModelHolder | None = None,
        *,
        make_holder: HolderFactory | None = None,
        alias_probe: AliasProbe | None = registry_aliases,
        max_holders: int = MAX_PAIR_HOLDERS,
    ) -> None:
        self.settings = settings
        self.default = default or ModelHolder(settings)
        self._make_holder = make_holder or (lambda alias: ModelHolder(settings, alias_loader(alias), alias=alias))
        self._probe = alias_probe
        self.max_holders = max_holders
        self._aliases: dict[str, str] | None = None
        self._holders: OrderedDict[str, ModelHolder] = OrderedDict()
        self._subscribers: list[ModelCallback] = []
        self._lock = threading.Lock()

    @classmethod
    def single(cls, holder: ModelHolder) -> PairModels:
        """Every pair served by `holder` (its own probe keeps it fresh): no per-pair champions."""
        return cls(holder.settings, holder, alias_probe=None)

    # -- serving ------------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self.default.loaded

    def get(self, symbol: str | None = None) -> Predictor:
        """The model serving `symbol` (default: the global champion's pair, DEFAULT_SYMBOL)."""
        return self.serve(symbol).predictor

    def serve(self, symbol: str | None = None) -> Served:
        """`champion-<pair>` if the registry has it and it loads, else the global champion, else the baseline."""
        pair = symbol or self.settings.default_symbol
        own = pair_alias(pair, self.settings.model_alias)
        version = self.aliases().get(own)
        if version is not None:
            predictor = self.default.get()
            if self.default.version == version:  # the global champion is also this pair's: one model loaded
                return Served(predictor, own, self.default)
            holder = self._holder(own)
            predictor = holder.get()
            if not holder.fallback:
                return Served(predictor, own, holder)
            log.warning("%s could not be loaded (%s); serving %s the global model", own, holder.fallback_reason, pair)
        return Served(self.default.get(), self.default.served_alias, self.default)

    def peek(self, symbol: str | None = None) -> Predictor | None:
        """What `get(symbol)` would return, if that needs no registry read and no model load; else None."""
        aliases = self._aliases if self._probe is not None else {}
        if aliases is None:
            return None
        own = pair_alias(symbol or self.settings.default_symbol, self.settings.model_alias)
        version = aliases.get(own)
        if version is not None and self.default.version != version:
            holder = self._holders.get(own)
            if holder is None or not holder.loaded:
                return None
            if not holder.fallback:
                return holder.current
        return self.default.current

    def info(self, symbol: str | None = None) -> ModelInfo:
        served = self.serve(symbol)
        pair = symbol or self.settings.default_symbol
        return served.holder.info().model_copy(update={"model_alias": served.alias, "symbol": pair})

    def aliases(self) -> dict[str, str]:
        """The registry's aliases as last read (read once on first use; {} for a single-holder book)."""
        if self._aliases is None:
            with self._lock:
                if self._aliases is None:
                    self._aliases = self._read_aliases() or {}
        return self._aliases

    @property
    def holders(self) -> dict[str, ModelHolder]:
        """The loaded pair champions by alias (the global holder is `default`)."""
        return dict(self._holders)

    def subscribe(self, callback: ModelCallback) -> None:
        """`callback(predictor, fallback)` after every model change of every holder, now and later."""
        self._subscribers.append(callback)
        self.default.subscribe(callback)
        for holder in list(self._holders.values()):
            holder.subscribe(callback)

    # -- hot reload ---------------------------------------------------------------------------
    def refresh_if_promoted(self) -> list[ReloadResult]:
        """Reload each loaded holder whose alias now points at another version (one registry call)."""
        if self._probe is None:
            result = self.default.refresh_if_promoted()
            return [] if result is None else [result]
        aliases = self._read_aliases()
        if aliases is None:  # registry unreachable: keep serving what is loaded
            return []
        self._aliases = aliases
        results: list[ReloadResult] = []
        wanted = aliases.get(self.settings.model_alias)
        if self.default.loaded and wanted is not None and self.default.version != wanted:
            log.info("%s is now v%s: reloading", self.settings.model_alias, wanted)
            results.append(self.default.reload())
        for alias, holder in self._prune(aliases).items():
            if holder.loaded and holder.version != aliases[alias]:
                log.info("%s is now v%s: reloading", alias, aliases[alias])
                results.append(holder.reload())
        return results

    def reload(self) -> ReloadResult:
        """Read the aliases again and reload every loaded model; the answer is the global champion's."""
        if self._probe is not None:
            aliases = self._read_aliases()
            if aliases is not None:
                self._aliases = aliases
        result = self.default.reload()
        notes = []
        for alias, holder in self._prune(self.aliases()).items():
            pair = holder.reload()
            notes.append(f"{alias}: {'v' + str(pair.model_version) if pair.success else 'failed'}")
        if notes:
            result = result.model_copy(update={"message": f"{result.message}; pair champions: {', '.join(notes)}"})
        return result

    # -- internals ----------------------------------------------------------------------------
    def _read_aliases(self) -> dict[str, str] | None:
        if self._probe is None:
            return {}
        try:
            return dict(self._probe(self.settings))
        except Exception as exc:
            log.warning("cannot read the registry's aliases (%s): pairs use the global model", exc)
            return None

    def _holder(self, alias: str) -> ModelHolder:
        with self._lock:
            holder = self._holders.get(alias)
            if holder is None:
                holder = self._make_holder(alias)
                for callback in self._subscribers:
                    holder.subscribe(callback)
                self._holders[alias] = holder
                while len(self._holders) > self.max_holders:
                    evicted, _ = self._holders.popitem(last=False)
                    log.info("unloading %s (more than %d pair champions)", evicted, self.max_holders)
            self._holders.move_to_end(alias)
            return holder

    def _prune(self, aliases: Mapping[str, str]) -> dict[str, ModelHolder]:
        """Drop holders whose alias is gone or now equals the global champion; the remaining ones."""
        shared = aliases.get(self.settings.model_alias)
        with self._lock:
            for alias in [a for a in self._holders if aliases.get(a) in (None, shared)]:
                del self._holders[alias]
            return dict(self._holders)
