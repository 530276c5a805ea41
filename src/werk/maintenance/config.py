"""``werk maintenance train --config job.toml``: what to train on, which model, where to save it.

::

    [data]
    format = "cmapss"              # C-MAPSS-format files ...
    path = "data/cmapss"           # a directory with train_<subset>.txt, or one file
    subset = "FD001"

    # ... or werk's store: the asset's signals, cut into runs by maintenance.failure events
    # format = "store"
    # url = "duckdb:///var/werk.duckdb"
    # asset = "press1"
    # cycle = "1h"                 # one model cycle: the signals are averaged over it
    # start = "2026-01-01T00:00:00Z"
    # end = "now"
    # [data.sensors]               # model sensor name = werk signal id
    # temperature = "press1.temperature"
    # [data.settings]              # operating settings (optional)
    # load = "press1.load"

    [model]
    kind = "gbm"                   # LightGBM (extra maintenance), or "cnn" (PyTorch, extra deep)
    cap = 125                      # remaining-life target capped here (cycles)
    coverage = 0.9                 # the interval's promised coverage
    validation_fraction = 0.2      # runs held out to validate and calibrate
    seed = 0
    [model.gbm]                    # LightGBM settings (werk.maintenance.models.GbmParams)
    rounds = 400
    [model.cnn]                    # 1D-CNN settings (werk.maintenance.deep.CnnParams)
    epochs = 20

    [features]                     # werk.maintenance.features.FeatureConfig
    mean_windows = [5, 10, 20, 30]

    [output]
    directory = "models/turbofan"  # versions are saved as v1, v2, ... under it

Relative paths are read from the config file's directory.
"""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werk.core import parse_duration, parse_time
from werk.maintenance.deep import CnnParams
from werk.maintenance.errors import DatasetError
from werk.maintenance.features import FeatureConfig
from werk.maintenance.histories import Histories
from werk.maintenance.models import GbmParams
from werk.maintenance.training import ModelConfig

_SECTIONS = {"data", "model", "features", "output"}


@dataclass
class TrainJob:
    data: dict[str, Any]
    model: ModelConfig = field(default_factory=ModelConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    output: Path = Path("models/rul")
    base: Path = Path(".")

    def load_histories(self) -> Histories:
        """The training histories the job names."""
        kind = str(self.data.get("format", "cmapss"))
        if kind == "cmapss":
            from werk.maintenance.sources import histories_from_files

            if "path" not in self.data:
                raise DatasetError("data.path is missing", field="data.path", rule="required")
            return histories_from_files(
                self._path(self.data["path"]), str(self.data.get("subset", "FD001"))
            )
        if kind == "store":
            return self._from_store()
        raise DatasetError(
            f"data.format {kind!r}: cmapss or store", field="data.format", rule="known-format"
        )

    def describe_source(self) -> dict[str, Any]:
        return {k: v for k, v in self.data.items() if k not in {"sensors", "settings"}}

    def _from_store(self) -> Histories:
        from werk.maintenance.sources import histories_from_store
        from werk.store.base import open_store

        for key in ("url", "asset", "sensors"):
            if key not in self.data:
                raise DatasetError(f"data.{key} is missing", field=f"data.{key}", rule="required")
        now = time.time_ns()
        try:
            start = parse_time(str(self.data.get("start", "3650d")), now)
            end = parse_time(str(self.data.get("end", "now")), now)
            cycle_s = parse_duration(str(self.data.get("cycle", "1h"))) / 1e9
        except ValueError as error:
            raise DatasetError(str(error), field="data", rule="time") from None
        store = open_store(str(self.data["url"]))
        try:
            return histories_from_store(
                store,
                asset=str(self.data["asset"]),
                sensors=dict(self.data["sensors"]),
                settings=dict(self.data.get("settings", {})),
                start=start,
                end=end,
                cycle_s=cycle_s,
            )
        finally:
            store.close()

    def _path(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base / path


def load_job(path: Path) -> TrainJob:
    try:
        raw = tomllib.loads(Path(path).read_text())
    except OSError as error:
        raise DatasetError(f"cannot read {path}: {error}", field=str(path), rule="readable") from (
            error
        )
    except tomllib.TOMLDecodeError as error:
        raise DatasetError(f"{path}: {error}", field=str(path), rule="toml") from None
    return job_from_dict(raw, base=Path(path).parent)


def job_from_dict(raw: dict[str, Any], *, base: Path = Path(".")) -> TrainJob:
    unknown = set(raw) - _SECTIONS
    if unknown:
        raise DatasetError(
            f"unknown section(s) {sorted(unknown)}: data, model, features, output",
            field=sorted(unknown)[0],
            rule="known-keys",
        )
    if "data" not in raw:
        raise DatasetError("the [data] section is missing", field="data", rule="required")
    model_raw = dict(raw.get("model", {}))
    gbm = GbmParams.from_dict(model_raw.pop("gbm", {}))
    cnn = CnnParams.from_dict(model_raw.pop("cnn", {}))
    known = set(ModelConfig.__dataclass_fields__) - {"gbm", "cnn"}
    unknown = set(model_raw) - known
    if unknown:
        raise DatasetError(
            f"unknown model option(s): {', '.join(sorted(unknown))}",
            field="model",
            rule="known-keys",
        )
    model = ModelConfig(**model_raw, gbm=gbm, cnn=cnn)
    features = FeatureConfig.from_dict(dict(raw.get("features", {})))
    output = Path(str(raw.get("output", {}).get("directory", "models/rul")))
    job = TrainJob(dict(raw["data"]), model, features, output, base)
    job.output = job._path(str(output))
    return job
