"""beets plugin: `beet genre-classify [QUERY]` sets each matched item's genre from its audio.

The shipped genre_core model listens to the file (ten 3-s windows, mean of the
calibrated window probabilities) and the genre is set only where the
probability reaches the model's measured threshold (written genres right at
least 90 % of the time on the valid split) and the model does not judge the
song to be none of its ten genres (its open-set verdict). The file is written first, through
genre_core's own writer (only the genre and mood fields), and the database only once it is, so the
two agree. Genres go into beets 2.x's multi-valued `genres` field,
which beets writes into the file as separate values. How they meet an item's
existing genres is the `mode`, as in `write-tags`: `replace` (items that have genres
keep them unless `--force`), `append` (keep every existing genre, add ours after
them) or `merge` (ours first, then the existing ones, no duplicates).

Enable it in beets' config (`beet config -e`) once `genre_core` is importable
in beets' Python (`pip install -e .` in this repository does both):

    plugins: genreclassify
    genreclassify:
        model: null            # a shipped model name (musicnn_crnn, crnn) or a checkpoint path; null: the default
        min_probability: null  # null: the model's measured threshold
        force: no              # mode replace: replace genres items already have
        mode: replace          # replace | append | merge
        max_genres: 1          # also a second or third genre where the model is confident about it too
        secondary_min_probability: null  # null: the model's measured secondary threshold
        include_other: no      # also set genres of items that sound like none of the ten genres
        outside: yes           # set the family outside the ten (Electronic, R&B, New Age) of items held back as
                               # none of the ten, where the model's measured outside threshold is reached
        per: track             # album: one consensus genre per album (as `beet genre-classify -a`)
        names: {}              # your own genre names, e.g. {hiphop: Hip Hop, metal: [Metal, Heavy Metal]}
        moods: no              # also set a `mood` attribute and write the file's mood field (TMOO, MOOD, ...)
        mood_min_probability: null  # null: the model's measured mood threshold (written moods right >= 80 %)
        auto: no               # also classify items as they are imported
"""

from __future__ import annotations

from typing import Any

from beets import ui
from beets.library import Item
from beets.plugins import BeetsPlugin
from beets.util import displayable_path, syspath

from genre_core.errors import UsageError
from genre_core.models.song_embedding import from_cell, to_text
from genre_core.tags.albums import consensus
from genre_core.tags.filetags import TagWriteError, is_read_only, read_genre, tag_name, with_genres, write_genre
from genre_core.tags.genre_names import GenreNames, check_genre_names
from genre_core.tags.write_moods import mood_threshold, plan_mood
from genre_core.tags.write_tags import (
    MODES,
    Flags,
    decide,
    decide_outside,
    genres_to_write,
    held_back_as_other,
    other_reason,
    outside_to_write,
    unlocking_flags,
)
from genre_core.tags.write_thresholds import Threshold, combine_thresholds, measured_threshold, require_secondary

#: The plugin's own options, for the hints its messages give (its overwrite is -f/--force).
BEETS_FLAGS = Flags(include_other="--include-other", min_probability="--min-probability", overwrite="-f/--force")

#: Flexible attributes holding each item's song embedding and the model that made it (`beet genre-similar`).
EMBEDDING_FIELD, EMBEDDING_MODEL_FIELD = "genre_embedding", "genre_embedding_model"

#: beets 2.x keeps a multi-valued `genres`; older versions a single `genre`.
GENRE_FIELD = "genres" if "genres" in Item._fields else "genre"


def prediction_row(prediction: Any, item: Item) -> dict[str, Any]:
    """A prediction as a tag-table row: what the shared write rules read."""
    probs = prediction.aggregate("mean")
    label, probability = prediction.top_k(1, "mean")[0]
    return {
        "path": displayable_path(item.path),
        "genre": label,
        "probability": probability,
        **{f"p_{g}": float(p) for g, p in zip(prediction.labels, probs, strict=True)},
        "other_probability": prediction.other_probability,
        "is_other": prediction.is_other,
        "outside_genre": prediction.outside["genre"] if prediction.outside else None,
        "outside_probability": prediction.outside["probability"] if prediction.outside else None,
    }


class GenreClassifyPlugin(BeetsPlugin):
    def __init__(self) -> None:
        super().__init__()
        self.config.add(
            {
                "model": None,
                "min_probability": None,
                "force": False,
                "mode": "replace",
                "max_genres": 1,
                "secondary_min_probability": None,
                "include_other": False,
                "outside": True,
                "moods": False,
                "mood_min_probability": None,
                "per": "track",
                "names": {},
                "auto": False,
            }
        )
        self._classifier: Any = None
        self._mood_cut: float | None = None
        self._models: Any = None
        self._model_id: str | None = None
        if self.config["auto"].get(bool):
            self.import_stages = [self.imported]

    # ---- the model, loaded once, on first use --------------------------------------------------

    @property
    def classifier(self) -> Any:
        if self._classifier is None:
            from genre_core.classifier import GenreClassifier

            self._classifier = GenreClassifier.load(self.config["model"].get(), device="auto")
        return self._classifier

    def models(self) -> Any:
        """The configured model as the writing path reads it (thresholds, mood head): read once per run."""
        if self._models is None:
            from genre_core.tags.model_record import RunModels

            self._models = RunModels.read(self.config["model"].get())
        return self._models

    def threshold(self) -> Threshold:
        """The primary and secondary thresholds: given in the config or options, else the model's measured ones."""
        given = self.config["min_probability"].get()
        secondary = self.config["secondary_min_probability"].get()
        threshold = combine_thresholds(
            measured_threshold(self.models().chosen),
            float(given) if given is not None else None,
            float(secondary) if secondary is not None else None,
        )
        if threshold is None:
            raise ui.UserError(
                "genreclassify: this model's genres are right 90 % of the time on valid at no probability "
                "(or it was never calibrated); set min_probability, or use the default model"
            )
        try:
            require_secondary([threshold], self.max_genres())
        except UsageError as exc:
            raise ui.UserError(f"genreclassify: {exc}") from exc
        return threshold

    def max_genres(self) -> int:
        return max(1, int(self.config["max_genres"].get(int)))

    def mode(self) -> str:
        mode = self.config["mode"].as_str()
        if mode not in MODES:
            raise ui.UserError(f"genreclassify: mode must be one of {', '.join(MODES)}, not '{mode}'")
        return mode

    # ---- one item ----------------------------------------------------------------------------

    def predict(self, item: Item) -> Any:
        """The item's prediction, or None (logged) when its file cannot be classified."""
        try:
            return self.classifier.predict(syspath(item.path))
        except Exception as exc:  # a missing or damaged file must not stop a library run
            self._log.warning("{}: cannot classify: {}", displayable_path(item.path), exc)
            return None

    def process(self, item: Item, threshold: Threshold, force: bool, pretend: bool, write: bool) -> str:
        """Classify one item and set its genres when confident enough; returns the action taken."""
        prediction = self.predict(item)
        if prediction is None:
            return "skip"
        return self.apply(item, prediction, prediction_row(prediction, item), threshold, force, pretend, write)

    def apply(
        self, item: Item, prediction: Any, row: dict, threshold: Threshold, force: bool, pretend: bool, write: bool
    ) -> str:
        """Set one item's genres from `row` (its own prediction, or its album's consensus) and its mood."""
        label, probability = str(row["genre"]), float(row["probability"])
        shown = str(item) if item.title else displayable_path(item.path)
        if not pretend:
            self.store_embedding(item, prediction)
        if self.config["moods"].get(bool):
            self.process_mood(item, prediction.mood, shown, force, pretend, write)
        include_other = self.config["include_other"].get(bool)
        outside = outside_to_write(row, threshold) if self.config["outside"].get(bool) and not include_other else None
        current = list(getattr(item, GENRE_FIELD) or []) if GENRE_FIELD == "genres" else [item.genre or ""]
        labels = genres_to_write(row, threshold, self.max_genres())
        if outside is not None:
            label, probability = outside
            action, reason, proposed = decide_outside(
                current, outside, threshold, force, self.mode(), self.names(), BEETS_FLAGS
            )
        elif held_back_as_other(row, threshold) and not include_other:
            unlock = unlocking_flags(
                current, labels, probability, threshold, force, self.mode(), self.names(), BEETS_FLAGS
            )
            reason = other_reason(row, threshold, unlock)
            ui.print_(f"{'other':<6} {probability:4.0%}  {tag_name(label):<10}  {shown}  ({reason})")
            return "other"
        else:
            action, reason, proposed = decide(
                current, labels, probability, threshold.min_probability, force, self.mode(), self.names(), BEETS_FLAGS
            )
        if action == "write" and write and is_read_only(syspath(item.path)):
            action, reason = "skip", "the file is read-only: neither it nor the database is changed"
        change = f"{'; '.join(current) or '-'} → {'; '.join(proposed)}" if action == "write" else tag_name(label)
        ui.print_(f"{action:<6} {probability:4.0%}  {change:<10}  {shown}  ({reason})")
        if action == "write" and not pretend:
            action = self.store_genres(item, proposed, write)
        return action

    def store_genres(self, item: Item, proposed: tuple[str, ...], write: bool) -> str:
        """The file first, then the database, so both agree: a failed write leaves both as they were.

        The file is written through genre_core's own writer (only the genre field, atomically, its ID3 version
        kept), not beets' `item.write()`, which rewrites every field it knows: BPM 0, DATE 0000, TRCK 2/0, empty
        FLAC comments, and an ID3v2.3 file saved as v2.4 (where a v2.3 mood frame no longer reads back).
        """
        if write:
            path = syspath(item.path)
            try:
                write_genre(path, with_genres(read_genre(path), proposed))
            except TagWriteError as exc:
                ui.print_(f"failed          {displayable_path(item.path)}  ({exc}; the database is unchanged)")
                return "failed"
            item.mtime = item.current_mtime()  # as beets' own write does: `beet update` sees nothing new
        setattr(item, GENRE_FIELD, list(proposed) if GENRE_FIELD == "genres" else ", ".join(proposed))
        item.store()
        return "written"

    def names(self) -> GenreNames | None:
        """The owner's genre names from the `names:` mapping, checked like `--genre-names`."""
        mapping = self.config["names"].get()
        if not mapping:
            return None
        try:
            return check_genre_names(dict(mapping), "genreclassify.names")
        except UsageError as exc:
            raise ui.UserError(f"genreclassify: {exc}") from exc

    def process_album(self, album: Any, threshold: Threshold, force: bool, pretend: bool, write: bool) -> list[str]:
        """Classify an album's items and give each the album's consensus genre (one-track albums: their own)."""
        predicted = [(item, self.predict(item)) for item in album.items()]
        predicted = [(item, p) for item, p in predicted if p is not None]
        rows = [
            {**prediction_row(p, item), "album": album.album or "?", "albumartist": album.albumartist}
            for item, p in predicted
        ]
        rows, albums, _ = consensus(rows)
        if albums:
            a = albums[0]
            ui.print_(
                f"album {a.artist} - {a.album}: {len(a.paths)} tracks → {tag_name(a.genre)} ({a.probability:.0%})"
            )
        pairs = list(zip(predicted, rows, strict=True))
        actions = [self.apply(item, p, row, threshold, force, pretend, write) for (item, p), row in pairs]
        agreed = [item for ((item, _), _), action in zip(pairs, actions, strict=True) if action in ("written", "same")]
        if agreed and GENRE_FIELD == "genres" and not pretend:
            # The album's own field too, as `beet lastgenre -a` sets it: whenever the consensus passed, also when
            # its tracks already held it (a per-track run before), so `beet ls -a genres:X` finds the album.
            genres = list(getattr(agreed[0], GENRE_FIELD))
            if list(album.genres or []) != genres:
                album.genres = genres
                album.store(inherit=False)
        return actions

    def mood_cut(self) -> float:
        """The mood threshold (given or measured), read once per run."""
        if self._mood_cut is None:
            given = self.config["mood_min_probability"].get()
            try:
                self._mood_cut = mood_threshold(self.models(), float(given) if given is not None else None)
            except UsageError as exc:
                raise ui.UserError(f"genreclassify: {exc}") from exc
        return self._mood_cut

    def process_mood(self, item: Item, mood: dict | None, shown: str, force: bool, pretend: bool, write: bool) -> None:
        """Set the item's `mood` attribute, and the file's mood field, where the mood is confident enough.

        The file is written first and the database only once it is, so the two never disagree; a mood the file
        already holds (one it keeps, or ours) is read into beets, so `beet ls mood:...` finds it.
        """
        if not mood:
            return
        label, probability = mood["label"], mood["probabilities"][mood["quadrant"]]
        row = {"path": syspath(item.path), "mood": label, "mood_probability": probability}
        plan = plan_mood(row, self.mood_cut(), force, overwrite_flag=BEETS_FLAGS.overwrite)
        ui.print_(f"mood:{plan.action:<6} {probability:4.0%}  {label:<18}  {shown}  ({plan.reason})")
        if pretend:
            return
        held = "; ".join(plan.current)
        if plan.action == "write":
            if write and plan.after is not None:
                try:
                    write_genre(syspath(item.path), plan.after)
                except TagWriteError as exc:
                    ui.print_(
                        f"mood:failed          {shown}  (cannot write the mood: {exc}; the database is unchanged)"
                    )
                    return
            held = label
        if held and item.get("mood") != held:
            item["mood"] = held  # a flexible attribute: beets keeps it, `beet ls mood:calm` finds it
            item.store()

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
        command.parser.add_option(
            "-m", "--mode", choices=list(MODES), default=None, help="replace (default), append or merge"
        )
        command.parser.add_option("--max-genres", type="int", default=None, help="up to this many genres (default 1)")
        command.parser.add_option(
            "--secondary-min-probability", type="float", default=None, help="default: the model's measured one"
        )
        command.parser.add_option(
            "--include-other",
            action="store_true",
            default=None,
            help="also set genres of items that sound like none of the ten genres",
        )
        command.parser.add_option(
            "--no-outside",
            dest="outside",
            action="store_false",
            default=None,
            help="never set a family outside the ten (Electronic, R&B, New Age) for items held back as none of the ten",
        )
        command.parser.add_option(
            "--moods", action="store_true", default=None, help="also set each item's mood (and its file's mood field)"
        )
        command.parser.add_option(
            "--mood-min-probability", type="float", default=None, help="default: the model's measured mood threshold"
        )
        command.parser.add_option(
            "-a", "--album", action="store_true", default=None, help="match albums: one consensus genre per album"
        )
        command.parser.add_option("--model", default=None, help="a shipped model name or a checkpoint path")
        command.func = self.command
        similar = ui.Subcommand("genre-similar", help="items that sound most like the matched ones")
        similar.parser.add_option("-k", type="int", default=10, help="how many per item (default 10)")
        similar.func = self.similar_command
        return [command, similar]

    # ---- `beet genre-similar`: from the embeddings genre-classify stores --------------------------

    def store_embedding(self, item: Item, prediction: Any) -> None:
        """The song embedding as flexible attributes (database only: no file tag), for `beet genre-similar`."""
        if prediction.embedding is None:
            return
        item[EMBEDDING_FIELD] = to_text(prediction.embedding)
        item[EMBEDDING_MODEL_FIELD] = self.model_id()
        item.store()

    def model_id(self) -> str:
        from genre_core.table_io import model_id

        if self._model_id is None:
            self._model_id = model_id(self.config["model"].get())
        return self._model_id

    def similar_command(self, lib: Any, opts: Any, args: list[str]) -> None:
        import numpy as np

        pool = [i for i in lib.items() if i.get(EMBEDDING_FIELD) and i.get(EMBEDDING_MODEL_FIELD) == self.model_id()]
        if not pool:
            raise ui.UserError(
                "genreclassify: no item has an embedding from this model yet: run `beet genre-classify` first"
            )
        vectors = np.stack([from_cell(i[EMBEDDING_FIELD]) for i in pool])
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        for query in lib.items(args):
            ui.print_(str(query))
            mine = [n for n, item in enumerate(pool) if item.id == query.id]
            if not mine:
                ui.print_("  no embedding from this model: run `beet genre-classify` on it first")
                continue
            sims = vectors @ vectors[mine[0]]
            sims[mine[0]] = -np.inf
            for n in np.argsort(-sims)[: max(1, opts.k)]:
                ui.print_(f"  {sims[n]:.3f}  {pool[n]}")

    def command(self, lib: Any, opts: Any, args: list[str]) -> None:
        self.config.set_args(
            {
                "force": opts.force,
                "min_probability": opts.min_probability,
                "model": opts.model,
                "mode": opts.mode,
                "max_genres": opts.max_genres,
                "secondary_min_probability": opts.secondary_min_probability,
                "include_other": opts.include_other,
                "outside": opts.outside,
                "moods": opts.moods,
                "mood_min_probability": opts.mood_min_probability,
            }
        )
        threshold, force, write = self.threshold(), self.config["force"].get(bool), ui.should_write()
        if self.config["moods"].get(bool):
            self.mood_cut()  # a missing mood rule is a clear error before any item is touched
        counts: dict[str, int] = {}
        self.names()  # a wrong `names:` mapping is a clear error before any item is touched
        if opts.album or self.config["per"].as_str() == "album":
            for album in lib.albums(args):
                for action in self.process_album(album, threshold, force, bool(opts.pretend), write):
                    counts[action] = counts.get(action, 0) + 1
        else:
            for item in lib.items(args):
                action = self.process(item, threshold, force, bool(opts.pretend), write)
                counts[action] = counts.get(action, 0) + 1
        summary = ", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "no items matched"
        pretend = ", pretend" if opts.pretend else ""
        ui.print_(f"genre-classify (p >= {threshold.min_probability:.2f}, mode {self.mode()}{pretend}): {summary}")

    def imported(self, session: Any, task: Any) -> None:
        """Import stage: set genres as items arrive.

        An autotagged import writes every tag itself afterwards; an as-is import
        (`-A`) writes none, so the genre is written here to keep file and database in step.
        """
        threshold, force = self.threshold(), self.config["force"].get(bool)
        write = ui.should_write() and not task.apply
        for item in task.imported_items():
            self.process(item, threshold, force, pretend=False, write=write)
