"""Which models ship: their names, paths, titles and the default (no torch: serving reads this).

The network families themselves, and building one from a config, are in `models.families`.
"""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"

#: The models that ship in `models/`, by the name the sidebar and `--model` use.
SHIPPED_MODELS: dict[str, Path] = {
    "musicnn_crnn": MODELS_DIR / "genre_musicnn_crnn.pt",
    "crnn": MODELS_DIR / "genre_crnn.pt",
}
#: The shipped model with the better valid macro-F1 (a test keeps this true).
DEFAULT_MODEL = "musicnn_crnn"
DEFAULT_MODEL_PATH = SHIPPED_MODELS[DEFAULT_MODEL]
MODEL_TITLES = {
    "musicnn_crnn": "Transfer CRNN (pretrained musicnn front end)",
    "crnn": "Fast CRNN (distilled from the transfer CRNN)",
}
#: What a narrow place (the sidebar's model picker) shows; the titles above say the rest.
MODEL_SHORT_TITLES = {"musicnn_crnn": "Transfer CRNN", "crnn": "Fast CRNN"}


def missing_model(path: Path) -> str:
    """What to say when no model file is at `path`."""
    return (
        f"No model file at '{path}'. Shipped models: {', '.join(SHIPPED_MODELS)}; "
        "or train one with `python -m genre_core train` / `train-transfer`."
    )


def resolve_model(model: str | Path | None) -> Path:
    """A shipped model's name, a checkpoint path, or None for the default → a path."""
    if model is None:
        return DEFAULT_MODEL_PATH
    return SHIPPED_MODELS.get(str(model), Path(model))
