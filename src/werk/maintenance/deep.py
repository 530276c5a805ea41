"""A small 1D-CNN for remaining useful life, in PyTorch (extra ``deep``).

In the manner of Li, Ding and Sun (2018, "Remaining useful life estimation in prognostics using
deep convolution neural networks"): the model reads a *window* of the last ``window`` cycles of
the pipeline's normalised sensors (z-scored per operating condition, the constant ones dropped)
and answers the capped remaining life at the window's last cycle. Four convolutions along time
(tanh), one more down to a single channel, then dropout and a dense head. A run shorter than the
window is padded with its first reading, so an asset has an estimate from its first cycle.

**Interval.** Dropout stays on at prediction time for ``mc_samples`` passes (MC dropout, Gal and
Ghahramani 2016); the 5 % and 95 % of those passes are the raw band, which the same conformal
correction as the GBM's widens to the promised coverage on held-out runs
(:func:`werk.maintenance.models.conformal_margins`). MC dropout alone is far too narrow on new
engines; the correction is what makes the coverage honest. The point estimate is the pass
without dropout.

**Where it runs.** On CUDA when ``torch.cuda.is_available()``, else on the CPU with ``threads``
intra-op threads (1 by default, see :class:`CnnParams`), restored afterwards. Seeds are
fixed: the same data and settings give the same model on the same machine.

**Saved as** ``cnn.pt`` (``torch.save`` of the state dict: tensors only, read back with
``weights_only=True``, so loading runs no code) and ``cnn.json`` (parameters, input size,
calibration), beside the pipeline and metadata of the version directory.

Importing this module does not import torch; fitting, predicting and loading do.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from werk.core import MissingExtraError
from werk.maintenance.errors import DatasetError
from werk.maintenance.histories import FloatArray
from werk.maintenance.models import (
    GROUPS,
    Prediction,
    Progress,
    conformal_margins,
    conformal_prediction,
)

if TYPE_CHECKING:
    from werk.maintenance.features import FeaturePipeline
    from werk.maintenance.histories import Histories

Windows = FloatArray
"""Model input: (rows, sensors, cycles), the window's last cycle is the row's own. Float64 like
every model input in werk; the network gets float32 copies, a chunk at a time."""

WEIGHTS = "cnn.pt"
STATE = "cnn.json"
_CHUNK = 8192  # windows per forward pass at prediction time (bounds memory, not results)


def import_torch() -> Any:
    try:
        import torch
    except ImportError as error:
        raise MissingExtraError("torch", "deep") from error
    return torch


@dataclass
class CnnParams:
    """Network and training settings; the epochs were chosen on a split of C-MAPSS FD001's
    *training* engines (docs/maintenance.md), never on its test engines."""

    window: int = 30
    filters: int = 10
    kernel: int = 9
    """Odd, so the 'same' padding is symmetric."""
    conv_layers: int = 4
    dropout: float = 0.5
    dense: int = 100
    epochs: int = 20
    """On 20 held-out FD001 training engines the validation error fell to its lowest around
    epoch 15 (RMSE 12.9 over every cycle) and rose after it (14.9 by epoch 100): the network
    overfits 80 engines quickly. 20, the last 5 at the lower rate, stops near that minimum."""
    batch_size: int = 256
    learning_rate: float = 1e-3
    final_lr_fraction: float = 0.25
    """The last quarter of the epochs runs at a tenth of the learning rate: steadier weights."""
    mc_samples: int = 50
    threads: int = 1
    """CPU threads (capped at the cores there are); ignored on CUDA. One, as for LightGBM: on
    a busy 2-core machine two threads made a training step 12 times slower (21 ms against
    264 ms a batch: OpenMP threads spin while they wait for a core); raise it on an idle one."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu`` or ``cuda``."""

    def __post_init__(self) -> None:
        for name in ("window", "filters", "kernel", "conv_layers", "dense", "epochs"):
            if int(getattr(self, name)) < 1:
                raise DatasetError(f"model.cnn.{name} must be at least 1", field=name, rule=">=1")
        if self.kernel % 2 == 0:
            raise DatasetError("model.cnn.kernel must be odd", field="model.cnn.kernel", rule="odd")
        if not 0.0 < self.dropout < 1.0:
            raise DatasetError(
                "model.cnn.dropout must lie in (0, 1): the interval needs it",
                field="model.cnn.dropout",
                rule="open-unit-interval",
            )

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CnnParams:
        known = set(cls.__dataclass_fields__)
        unknown = set(raw) - known
        if unknown:
            raise DatasetError(
                f"unknown model.cnn option(s): {', '.join(sorted(unknown))}",
                field="model.cnn",
                rule="known-keys",
            )
        return cls(**raw)


def windows(
    pipeline: FeaturePipeline, histories: Histories, window: int, rows: Any = None
) -> Windows:
    """The window ending at each of ``rows`` (all rows when ``None``), shape (rows, sensors,
    window). A window never crosses into another run; before a run's first cycle it repeats it."""
    z = pipeline.normalise(histories)
    padded: list[FloatArray] = []
    first = np.empty(len(histories), np.int64)  # where each row's window starts in ``stacked``
    offset = 0
    for start, end in histories.bounds():
        padded += [np.repeat(z[start : start + 1], window - 1, axis=0), z[start:end]]
        first[start:end] = offset + np.arange(end - start)
        offset += end - start + window - 1
    if not padded:
        return np.empty((0, z.shape[1], window))
    stacked = np.concatenate(padded)
    chosen = first if rows is None else first[np.asarray(rows)]
    return np.ascontiguousarray(stacked[chosen[:, None] + np.arange(window)].transpose(0, 2, 1))


@dataclass
class ConvolutionalRul:
    """The 1D-CNN, with an MC-dropout band conformalised like the GBM's."""

    params: CnnParams = field(default_factory=CnnParams)
    coverage: float = 0.9
    cap: float = 125.0
    margin: list[float] = field(default_factory=lambda: [0.0] * GROUPS)
    kind: str = "cnn"
    seed: int = 0
    curve: list[float] = field(default_factory=list)
    """Validation RMSE (cycles) after each epoch, when fitted with ``validation``."""
    device_used: str = ""
    epoch_seconds: float = 0.0
    _net: Any = None
    _channels: int = 0

    # -- RulModel, over windows -------------------------------------------------------------

    def fit(
        self,
        features: Windows,
        target: FloatArray,
        *,
        progress: Progress | None = None,
        validation: tuple[Windows, FloatArray] | None = None,
    ) -> None:
        torch = import_torch()
        params = self.params
        report = progress or (lambda step, done: None)
        with self._running(torch) as device:
            torch.manual_seed(self.seed)
            self._channels = int(features.shape[1])
            self._net = _network(torch, self._channels, params).to(device)
            net = self._net
            x = torch.from_numpy(np.ascontiguousarray(features, np.float32)).to(device)
            y = torch.from_numpy((np.asarray(target) / self.cap).astype(np.float32)).to(device)
            optimiser = torch.optim.Adam(net.parameters(), lr=params.learning_rate)
            slow_from = params.epochs - round(params.epochs * params.final_lr_fraction)
            shuffle = torch.Generator().manual_seed(self.seed)
            self.curve = []
            started = time.perf_counter()
            for epoch in range(params.epochs):
                if epoch == slow_from:
                    for group in optimiser.param_groups:
                        group["lr"] = params.learning_rate / 10.0
                net.train()
                order = torch.randperm(len(x), generator=shuffle).to(device)
                for begin in range(0, len(x), params.batch_size):
                    batch = order[begin : begin + params.batch_size]
                    loss = torch.nn.functional.mse_loss(net(x[batch]).squeeze(1), y[batch])
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                step = f"epoch {epoch + 1}/{params.epochs}"
                if validation is not None:
                    held = np.clip(self._point(torch, validation[0], device), 0.0, self.cap)
                    error = float(np.sqrt(np.mean((held - validation[1]) ** 2)))
                    self.curve.append(round(error, 3))
                    step += f", validation RMSE {error:.2f}"
                report(step, (epoch + 1) / params.epochs)
            self.epoch_seconds = round((time.perf_counter() - started) / params.epochs, 4)

    def calibrate(self, features: Windows, target: FloatArray) -> list[float]:
        point, lower, upper = self._raw(features)
        self.margin = conformal_margins(
            point, lower, upper, target, coverage=self.coverage, cap=self.cap
        )
        return self.margin

    def predict(self, features: Windows) -> Prediction:
        point, lower, upper = self._raw(features)
        return conformal_prediction(point, lower, upper, self.margin, cap=self.cap)

    # -- SequenceRulModel ----------------------------------------------------------------------

    def fit_histories(
        self,
        pipeline: FeaturePipeline,
        histories: Histories,
        target: FloatArray,
        *,
        progress: Progress | None = None,
        validation: tuple[Histories, FloatArray] | None = None,
    ) -> None:
        held = None
        if validation is not None:
            held = (self.windows(pipeline, validation[0]), validation[1])
        self.fit(self.windows(pipeline, histories), target, progress=progress, validation=held)

    def calibrate_histories(
        self, pipeline: FeaturePipeline, histories: Histories, target: FloatArray
    ) -> list[float]:
        return self.calibrate(self.windows(pipeline, histories), target)

    def predict_histories(
        self, pipeline: FeaturePipeline, histories: Histories, rows: Any = None
    ) -> Prediction:
        return self.predict(self.windows(pipeline, histories, rows))

    def windows(self, pipeline: FeaturePipeline, histories: Histories, rows: Any = None) -> Windows:
        return windows(pipeline, histories, self.params.window, rows)

    # -- inside --------------------------------------------------------------------------------

    def _raw(self, features: Windows) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Point (dropout off) and the MC-dropout band, in cycles, before the correction."""
        if self._net is None:
            raise RuntimeError("predict before fit")
        torch = import_torch()
        tail = (1.0 - self.coverage) / 2.0
        with self._running(torch) as device:
            point = self._point(torch, features, device)
            samples = self._samples(torch, features, device)
        lower, upper = np.quantile(samples, [tail, 1.0 - tail], axis=0)
        return point, np.minimum(lower, point), np.maximum(upper, point)

    def _point(self, torch: Any, features: Windows, device: Any) -> FloatArray:
        net = self._net
        net.eval()
        out = []
        with torch.no_grad():
            for begin in range(0, len(features), _CHUNK):
                x = torch.from_numpy(features[begin : begin + _CHUNK].astype(np.float32))
                out.append(net(x.to(device)).squeeze(1).cpu().numpy())
        return np.asarray(np.concatenate(out) if out else [], np.float64) * self.cap

    def _samples(self, torch: Any, features: Windows, device: Any) -> FloatArray:
        """``mc_samples`` passes with dropout on, shape (samples, rows). The convolutions hold
        no dropout, so they run once; only the head is sampled, its dropout drawn here from a
        seeded generator (the same windows give the same band)."""
        body, head = self._net[0], self._net[1]
        self._net.eval()
        generator = torch.Generator(device=device).manual_seed(self.seed + 1)
        out = []
        with torch.no_grad():
            for begin in range(0, len(features), _CHUNK):
                x = torch.from_numpy(features[begin : begin + _CHUNK].astype(np.float32))
                hidden = body(x.to(device))
                passes = []
                for _ in range(self.params.mc_samples):
                    keep = torch.bernoulli(
                        torch.full_like(hidden, 1.0 - self.params.dropout), generator=generator
                    )
                    dropped = hidden * keep / (1.0 - self.params.dropout)
                    passes.append(head[1:](dropped).squeeze(1))
                out.append(torch.stack(passes).cpu().numpy())
        if not out:
            return np.empty((self.params.mc_samples, 0))
        return np.asarray(np.concatenate(out, axis=1), np.float64) * self.cap

    @contextlib.contextmanager
    def _running(self, torch: Any) -> Iterator[Any]:
        """The device to run on; on the CPU, ``threads`` threads for the duration."""
        wanted = self.params.device
        use_cuda = wanted == "cuda" or (wanted == "auto" and torch.cuda.is_available())
        device = torch.device("cuda" if use_cuda else "cpu")
        self.device_used = device.type
        if self._net is not None:
            self._net.to(device)
        if use_cuda:
            yield device
            return
        before = torch.get_num_threads()
        torch.set_num_threads(max(1, min(self.params.threads, os.cpu_count() or 1)))
        try:
            yield device
        finally:
            torch.set_num_threads(before)

    # -- files ---------------------------------------------------------------------------------

    def save(self, directory: Path) -> list[str]:
        torch = import_torch()
        if self._net is None:
            raise RuntimeError("save before fit")
        state = {k: v.detach().cpu() for k, v in self._net.state_dict().items()}
        torch.save(state, directory / WEIGHTS)
        (directory / STATE).write_text(json.dumps(self._state(), indent=2) + "\n")
        return [WEIGHTS, STATE]

    def _state(self) -> dict[str, Any]:
        return {
            "params": asdict(self.params),
            "channels": self._channels,
            "coverage": self.coverage,
            "cap": self.cap,
            "margin": self.margin,
            "seed": self.seed,
        }

    @classmethod
    def load(cls, directory: Path) -> ConvolutionalRul:
        torch = import_torch()
        state = json.loads((directory / STATE).read_text())
        model = cls(
            CnnParams.from_dict(state["params"]),
            coverage=float(state["coverage"]),
            cap=float(state["cap"]),
            margin=[float(m) for m in state["margin"]],
            seed=int(state.get("seed", 0)),
        )
        model._channels = int(state["channels"])
        net = _network(torch, model._channels, model.params)
        weights = torch.load(directory / WEIGHTS, map_location="cpu", weights_only=True)
        net.load_state_dict(weights)
        net.eval()
        model._net = net
        return model

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "params": asdict(self.params),
            "coverage": self.coverage,
            "cap": self.cap,
            "margin": self.margin,
            "inputs": {"sensors": self._channels, "window": self.params.window},
            "device": self.device_used,
            "seconds_per_epoch": self.epoch_seconds,
        }


def _network(torch: Any, channels: int, params: CnnParams) -> Any:
    """``Sequential(body, head)``: convolutions, then dropout and the dense layers."""
    nn = torch.nn
    pad = params.kernel // 2
    layers: list[Any] = []
    width = channels
    for _ in range(params.conv_layers):
        layers += [nn.Conv1d(width, params.filters, params.kernel, padding=pad), nn.Tanh()]
        width = params.filters
    layers += [nn.Conv1d(width, 1, 3, padding=1), nn.Tanh(), nn.Flatten()]
    body = nn.Sequential(*layers)
    head = nn.Sequential(
        nn.Dropout(params.dropout),
        nn.Linear(params.window, params.dense),
        nn.Tanh(),
        nn.Linear(params.dense, 1),
    )
    net = nn.Sequential(body, head)
    for module in net.modules():
        if isinstance(module, nn.Conv1d | nn.Linear):
            nn.init.xavier_normal_(module.weight)
            nn.init.zeros_(module.bias)
    return net
