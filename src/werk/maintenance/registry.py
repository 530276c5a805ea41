"""Saved models: one directory per version, files anyone can read.

::

    models/turbofan/
      v1/  metadata.json   werk version, created, data range, features, metrics, parameters
           features.json   the fitted feature pipeline (conditions, normalisation, fusion)
           reference.json  the training distribution of every feature (for drift, PSI)
           point0.txt ...  the model's own files: LightGBM text models (gbm), or cnn.pt (a
                           torch state dict, tensors only) and cnn.json (cnn); no pickles
      v2/  ...

Versions count up and are never overwritten, so an event that names ``turbofan/v3`` can always be
traced to the model that made it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from werk.core.drift import DriftReference
from werk.maintenance.errors import ModelNotFound
from werk.maintenance.features import FeaturePipeline
from werk.maintenance.models import GradientBoostedRul, RulModel
from werk.maintenance.training import TrainedModel

_VERSION = re.compile(r"^v(\d+)$")


class ModelRegistry:
    """The versions of one model under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def name(self) -> str:
        return self.root.name

    def versions(self) -> list[str]:
        """Saved versions, oldest first."""
        if not self.root.is_dir():
            return []
        found = [
            (int(m.group(1)), p.name)
            for p in self.root.iterdir()
            if (m := _VERSION.match(p.name)) and (p / "metadata.json").is_file()
        ]
        return [name for _, name in sorted(found)]

    def save(self, trained: TrainedModel) -> Path:
        """Save as the next version; returns its directory."""
        self.root.mkdir(parents=True, exist_ok=True)
        numbers = [int(v[1:]) for v in self.versions()]
        number = max(numbers, default=0) + 1
        while True:  # another trainer may have taken the number in between
            directory = self.root / f"v{number}"
            try:
                directory.mkdir()
                break
            except FileExistsError:
                number += 1
        trained.metadata["version"] = f"{self.name}/v{number}"
        save_model(trained, directory)
        return directory

    def load(self, version: str | None = None) -> TrainedModel:
        """A saved version (``v3`` or ``3``), the newest when ``None``."""
        versions = self.versions()
        if not versions:
            raise ModelNotFound(f"no saved model under {self.root}")
        if version is None:
            name = versions[-1]
        else:
            name = version if version.startswith("v") else f"v{version}"
            if name not in versions:
                raise ModelNotFound(
                    f"no version {name} under {self.root} (there are {', '.join(versions)})"
                )
        return load_model(self.root / name)


def save_model(trained: TrainedModel, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    files = trained.model.save(directory)
    _write_json(directory / "features.json", trained.pipeline.to_dict())
    if trained.reference is not None:
        _write_json(directory / "reference.json", trained.reference.to_dict())
    metadata = dict(trained.metadata, files=sorted(files))
    _write_json(directory / "metadata.json", metadata)  # last: its presence marks a whole save


def load_model(directory: Path) -> TrainedModel:
    """A model saved by ``save_model``: a version directory (or a registry, for its newest)."""
    directory = Path(directory)
    if not (directory / "metadata.json").is_file():
        if directory.is_dir() and ModelRegistry(directory).versions():
            return ModelRegistry(directory).load()
        raise ModelNotFound(f"no saved model at {directory} (metadata.json missing)")
    metadata = json.loads((directory / "metadata.json").read_text())
    pipeline = FeaturePipeline.from_dict(json.loads((directory / "features.json").read_text()))
    described = metadata["model"]
    model: RulModel
    if described["kind"] == "gbm":
        model = GradientBoostedRul.load(directory, described.get("params", {}))
    elif described["kind"] == "cnn":
        from werk.maintenance.deep import ConvolutionalRul

        model = ConvolutionalRul.load(directory)
    else:
        raise ModelNotFound(
            f"{directory} holds a {described['kind']!r} model; this werk reads gbm and cnn"
        )
    reference_path = directory / "reference.json"
    reference = (
        DriftReference.from_dict(json.loads(reference_path.read_text()))
        if reference_path.is_file()
        else None
    )
    return TrainedModel(pipeline, model, metadata, reference)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
