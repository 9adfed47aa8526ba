"""beets plugin: `beet genre-classify [QUERY]` sets each matched item's genre from its audio.

The shipped genre_core model listens to the file (ten 3-s windows, mean of the
calibrated window probabilities) and the genre is set only where the
probability reaches the model's measured threshold (written genres right at
least 90 % of the time on the valid split), through beets, so the database
and the file's tags agree. Items that already have a genre keep it unless
`--force`.

Enable it in beets' config (`beet config -e`) once `genre_core` is importable
in beets' Python (`pip install -e .` in this repository does both):

    plugins: genreclassify
    genreclassify:
        model: null            # a shipped model name (musicnn_crnn, crnn) or a checkpoint path; null: the default
        min_probability: null  # null: the model's measured threshold
        force: no              # replace genres items already have
        auto: no               # also classify items as they are imported
"""

from __future__ import annotations

from typing import Any

from beets import ui
from beets.library import Item
from beets.plugins import BeetsPlugin
from beets.util import displayable_path, syspath

from genre_core.write_tags import decide, measured_threshold, tag_name

#: beets 2.x keeps a multi-valued `genres`; older versions a single `genre`.
GENRE_FIELD = "genres" if "genres" in Item._fields else "genre"


class GenreClassifyPlugin(BeetsPlugin):
    def __init__(self) -> None:
        super().__init__()
        self.config.add({"model": None, "min_probability": None, "force": False, "auto": False})
        self._classifier: Any = None
        if self.config["auto"].get(bool):
            self.import_stages = [self.imported]

    # ---- the model, loaded once, on first use --------------------------------------------------

    @property
    def classifier(self) -> Any:
        if self._classifier is None:
            from genre_core.classifier import GenreClassifier

            self._classifier = GenreClassifier.load(self.config["model"].get(), device="auto")
        return self._classifier

    def threshold(self) -> float:
        given = self.config["min_probability"].get()
        if given is not None:
            return float(given)
        measured = measured_threshold(self.config["model"].get())
        if measured is None:
            raise ui.UserError(
                "genreclassify: this model's genres are right 90 % of the time on valid at no probability "
                "(or it was never calibrated); set min_probability, or use the default model"
            )
        return measured.min_probability

    # ---- one item ----------------------------------------------------------------------------

    def process(self, item: Item, threshold: float, force: bool, pretend: bool, write: bool) -> str:
        """Classify one item and set its genre when confident enough; returns the action taken."""
        try:
            prediction = self.classifier.predict(syspath(item.path))
        except Exception as exc:  # a missing or damaged file must not stop a library run
            self._log.warning("{}: cannot classify: {}", displayable_path(item.path), exc)
            return "skip"
        label, probability = prediction.top_k(1, "mean")[0]
        current = list(getattr(item, GENRE_FIELD) or []) if GENRE_FIELD == "genres" else [item.genre or ""]
        action, reason = decide(current, label, probability, threshold, force)
        shown = str(item) if item.title else displayable_path(item.path)
        ui.print_(f"{action:<6} {probability:4.0%}  {tag_name(label):<10}  {shown}  ({reason})")
        if action == "write" and not pretend:
            name = tag_name(label)
            setattr(item, GENRE_FIELD, [name] if GENRE_FIELD == "genres" else name)
            item.try_sync(write=write, move=False)
            action = "written"
        return action

    # ---- `beet genre-classify` and the import stage ------------------------------------------

    def commands(self) -> list[ui.Subcommand]:
        command = ui.Subcommand("genre-classify", help="set genres from the audio with genre_core's model")
        command.parser.add_option("-p", "--pretend", action="store_true", help="show what would change; change nothing")
        command.parser.add_option(
            "-f", "--force", action="store_true", default=None, help="replace genres items already have"
        )
        command.parser.add_option(
            "--min-probability", type="float", default=None, help="default: the model's measured threshold"
        )
        command.parser.add_option("--model", default=None, help="a shipped model name or a checkpoint path")
        command.func = self.command
        return [command]

    def command(self, lib: Any, opts: Any, args: list[str]) -> None:
        self.config.set_args({"force": opts.force, "min_probability": opts.min_probability, "model": opts.model})
        threshold, force, write = self.threshold(), self.config["force"].get(bool), ui.should_write()
        counts: dict[str, int] = {}
        for item in lib.items(args):
            action = self.process(item, threshold, force, bool(opts.pretend), write)
            counts[action] = counts.get(action, 0) + 1
        summary = ", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "no items matched"
        ui.print_(f"genre-classify (p >= {threshold:.2f}{', pretend' if opts.pretend else ''}): {summary}")

    def imported(self, session: Any, task: Any) -> None:
        """Import stage: set genres as items arrive.

        An autotagged import writes every tag itself afterwards; an as-is import
        (`-A`) writes none, so the genre is written here to keep file and database in step.
        """
        threshold, force = self.threshold(), self.config["force"].get(bool)
        write = ui.should_write() and not task.apply
        for item in task.imported_items():
            self.process(item, threshold, force, pretend=False, write=write)
