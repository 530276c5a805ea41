"""Predictive maintenance: health index and remaining useful life, trained, served, monitored.

- ``histories``   run-to-failure data: one row per asset per cycle
- ``cmapss``      NASA's C-MAPSS reader and its evaluation protocol (RMSE, PHM08 score)
- ``synthetic``   generated degradation data shaped like C-MAPSS (tests, demos)
- ``sources``     histories from C-MAPSS files or from werk's store (runs cut by events)
- ``conditions``  operating conditions found from the settings (k-means)
- ``features``    per-condition normalisation, rolling statistics, trends, fusion
- ``models``      LightGBM point and quantile models with a conformal interval (extra
                  ``maintenance``)
- ``deep``        a 1D-CNN over windows of normalised sensors, MC-dropout interval with the same
                  conformal correction (extra ``deep``: PyTorch)
- ``training``    validate by run, calibrate, fit; ``registry`` versioned models on disk
- ``config``      the TOML of ``werk maintenance train``
- ``serving``     the service on the bus (``maintenance.rul``, work-order suggestions)
- ``aas``         the Maintenance submodel of each asset's shell
- ``monitoring``  predictions against outcomes (early/late) and input drift (PSI)
- ``report``      the state of it all read back from stored events (``GET /api/v1/maintenance``)

Importing ``werk.maintenance`` stays light: the names below load their module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AssetBinding": "werk.maintenance.serving",
    "CnnParams": "werk.maintenance.deep",
    "ConvolutionalRul": "werk.maintenance.deep",
    "DatasetError": "werk.maintenance.errors",
    "DriftReference": "werk.core.drift",
    "FeatureConfig": "werk.maintenance.features",
    "FeaturePipeline": "werk.maintenance.features",
    "GbmParams": "werk.maintenance.models",
    "GradientBoostedRul": "werk.maintenance.models",
    "Histories": "werk.maintenance.histories",
    "MaintenanceError": "werk.maintenance.errors",
    "MaintenanceService": "werk.maintenance.serving",
    "MaintenanceState": "werk.maintenance.aas",
    "ModelConfig": "werk.maintenance.training",
    "ModelNotFound": "werk.maintenance.errors",
    "ModelRegistry": "werk.maintenance.registry",
    "Outcome": "werk.maintenance.monitoring",
    "Prediction": "werk.maintenance.models",
    "PredictionMonitor": "werk.maintenance.monitoring",
    "TrainedModel": "werk.maintenance.training",
    "as_machine_down": "werk.maintenance.serving",
    "fit_features": "werk.maintenance.features",
    "load_job": "werk.maintenance.config",
    "load_model": "werk.maintenance.registry",
    "load_subset": "werk.maintenance.cmapss",
    "maintenance_submodel": "werk.maintenance.aas",
    "phm08_score": "werk.maintenance.cmapss",
    "publish_maintenance": "werk.maintenance.aas",
    "rmse": "werk.maintenance.cmapss",
    "simulate": "werk.maintenance.synthetic",
    "simulate_subset": "werk.maintenance.synthetic",
    "train": "werk.maintenance.training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'werk.maintenance' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
