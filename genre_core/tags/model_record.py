"""What writing tags reads of its models, read once per run.

A `write-tags` run needs, of the model that made its table, the table id (a hash of the whole
checkpoint), the measured genre, secondary, open-set and outside thresholds and the mood head: all in
the checkpoint's calibration. Each used to resolve and read the model on its own (four reads and two
hashes of the checkpoint per run); `RunModels` reads each model once and the planner takes it from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ..classifier import checkpoint_path, load_info
from ..models.registry import SHIPPED_MODELS, resolve_model
from ..table_io import model_id


@dataclass(frozen=True)
class ModelRecord:
    """One model as the writing path sees it: where it is, which table rows it made, its calibration."""

    #: The checkpoint (or where it would be, beside the sidecar that stands for it).
    path: Path

    @classmethod
    def read(cls, model: str | Path | None) -> ModelRecord:
        """A shipped model's name, a checkpoint (or its export or sidecar) or None (the default); the one "no model
        file" error where neither the checkpoint nor its sidecar is there."""
        return cls(checkpoint_path(model))

    @cached_property
    def model_id(self) -> str | None:
        """The id its table rows carry (None: no checkpoint file here, e.g. a deploy that holds only the export).
        Hashes the whole checkpoint, so it is computed once and only when asked."""
        return model_id(self.path) if self.path.is_file() else None

    @cached_property
    def calibration(self) -> Mapping[str, Any]:
        """Thresholds, heads and measured rules, loaded once and only when asked (a model that is not here raises
        the one "no model file" error then, not before: a run that needs nothing of it goes on)."""
        return load_info(self.path).calibration


@dataclass(frozen=True)
class RunModels:
    """Every model one run may meet: the named one (`--model`, else the default), or every shipped model when
    none is named, since a table may hold rows of either. Moods come from `chosen`, as `--model` says."""

    chosen: ModelRecord
    candidates: tuple[ModelRecord, ...]

    @classmethod
    def read(cls, model: str | Path | None) -> RunModels:
        if model:
            chosen = ModelRecord.read(model)
            return cls(chosen, (chosen,))
        shipped = tuple(ModelRecord.read(path) for path in SHIPPED_MODELS.values() if path.is_file())
        default = resolve_model(None)  # where no default checkpoint is here, its sidecar may stand for it
        return cls(next((r for r in shipped if r.path == default), ModelRecord(default)), shipped)


def run_models(model: str | Path | RunModels | None) -> RunModels:
    """The record itself, or one read from a model's name or path (for callers that plan a single thing)."""
    return model if isinstance(model, RunModels) else RunModels.read(model)
