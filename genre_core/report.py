"""Markdown tables from a checkpoint's recorded metrics, for docs/model.md and the model card.

Generated, not typed: every figure in those documents comes from the same
evaluation that the CI regression test re-runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .report_embedding import embedding_text

#: Sources with enough recordings and genres to hold out (`training.holdout`; the `extra` clips always train).
HELD_OUT_SOURCES: tuple[str, ...] = ("gtzan", "4q", "emotify")
#: What the held-out rule averages and ranks candidates by: track-level macro-F1 per held-out source.
RULE_METRIC = "macro_f1"
START, END = "<!-- metrics:start -->", "<!-- metrics:end -->"
NAMES = {
    "shipped": "**this model**",
    "crnn": "fast CRNN, distilled (`crnn`)",
    "scratch_crnn": "from-scratch CRNN (the fast model before distillation)",
    "musicnn_crnn": "transfer CRNN (`musicnn_crnn`)",
    "musicnn_probe": "linear probe on frozen musicnn embeddings (c)",
    "reference": "reference CRNN-BiGRU (b)",
    "mfcc_logreg": "MFCC + logistic regression (a)",
}


def baselines_table(metrics: dict[str, Any]) -> str:
    """Every model of the recorded evaluations: accuracy and macro-F1 overall, and on the non-GTZAN recordings."""
    rows = [
        "| model | valid acc | valid macro-F1 | test acc | test macro-F1 | test acc, not GTZAN | test ms/recording "
        "| runs on |",
        "|---|---|---|---|---|---|---|---|",
    ]
    test = metrics.get("test", {})
    names = list(test.get("models", {})) or ["shipped"]
    for name in names:
        cells = []
        for split in ("valid", "test"):
            row = metrics.get(split, {}).get("models", {}).get(name, {}).get("spread/mean")
            cells += [f"{row['accuracy']:.1%}", f"{row['macro_f1']:.3f}"] if row else ["–", "–"]
        other = test.get("models", {}).get(name, {}).get("spread/mean", {}).get("by_source", {}).get("other")
        cells.append(f"{other['accuracy']:.1%}" if other else "–")
        ms = test.get("ms_per_recording", {}).get(name)
        cells.append(f"{ms:.0f}" if ms is not None else "–")
        cells.append(test.get("runtime", {}).get(name, "–"))
        rows.append(f"| {NAMES.get(name, name)} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def settings_table(metrics: dict[str, Any], split: str = "test") -> str:
    table = metrics[split]["models"]["shipped"]
    rows = ["| windows / aggregation | accuracy | macro-F1 |", "|---|---|---|"]
    rows += [f"| {key} | {row['accuracy']:.1%} | {row['macro_f1']:.3f} |" for key, row in table.items()]
    return "\n".join(rows)


def per_genre_table(metrics: dict[str, Any], labels: tuple[str, ...], split: str = "test") -> str:
    head = metrics[split]["headline"]
    report, auc = head["per_genre"], head["roc_auc"]
    rows = ["| genre | precision | recall | F1 | ROC-AUC | recordings |", "|---|---|---|---|---|---|"]
    for g in labels:
        r = report[g]
        rows.append(
            f"| {g} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1-score']:.2f} | "
            f"{auc.get(g, float('nan')):.3f} | {int(r['support'])} |"
        )
    return "\n".join(rows)


def source_table(metrics: dict[str, Any]) -> str:
    """GTZAN vs the rest, then each dataset on its own (macro-F1 over the genres it has) where recorded."""
    rows = ["| split | source | recordings | accuracy | macro-F1 |", "|---|---|---|---|---|"]
    for split in ("valid", "test"):
        head = metrics[split]["headline"]
        by_source = {**head["by_source"], **{k: v for k, v in head.get("by_dataset", {}).items() if k != "gtzan"}}
        for source, r in by_source.items():
            name = "other (all but GTZAN)" if source == "other" and "by_dataset" in head else source
            rows.append(f"| {split} | {name} | {r['n']} | {r['accuracy']:.1%} | {r['macro_f1']:.3f} |")
    return "\n".join(rows)


def holdout_table(holdout: dict[str, Any]) -> str:
    """The candidates of leave-one-source-out validation, as recorded in the checkpoint that won."""
    return candidates_table(holdout["candidates"], tuple(holdout["sources"]))


def candidates_table(results: dict[str, Any], sources: tuple[str, ...] = HELD_OUT_SOURCES) -> str:
    """Markdown: every candidate's held-out figures (the rule) beside its valid figures, best rule score first."""
    head = (
        "| candidate | design | held-out mean macro-F1 (acc) | "
        + " | ".join(f"without {s}: {s} macro-F1 (acc)" for s in sources)
        + " | valid macro-F1 (acc) |"
    )
    rows = [head, "|" + "---|" * (len(sources) + 4)]

    def cell(score: dict[str, Any] | None) -> str:
        return f"{score['macro_f1']:.3f} ({score['acc']:.1%})" if score else "–"

    ranked = sorted(results.items(), key=lambda kv: -kv[1]["scores"].get("held_out_mean", {}).get(RULE_METRIC, -1))
    for name, result in ranked:
        sc = result["scores"]
        cells = [cell(sc.get("held_out_mean")), *(cell(sc.get(s)) for s in sources), cell(sc.get("valid"))]
        rows.append(f"| `{name}` | {result.get('description', '')} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def calibration_table(calibration: dict[str, Any]) -> str:
    rows = [
        f"Temperature **{calibration['temperature']:.2f}** (fitted on valid).",
        "",
        "| split | ECE before | ECE after | NLL before | NLL after |",
        "|---|---|---|---|---|",
    ]
    for split in ("valid", "test"):
        c = calibration[split]
        rows.append(
            f"| {split} | {c['ece_before']:.3f} | {c['ece_after']:.3f} | {c['nll_before']:.3f} | {c['nll_after']:.3f} |"
        )
    return "\n".join(rows)


def tag_threshold_text(threshold: dict[str, Any]) -> str:
    """One paragraph: the write threshold, and how often genres written at it are right."""
    if threshold.get("min_probability") is None:
        best = threshold.get("valid_precision_of_most_confident")
        how_far = (
            f" (its {threshold.get('min_support')} most confident valid recordings: {best:.1%} right)" if best else ""
        )
        return (
            f"Writing genres into files: no cut reaches {threshold['target_precision']:.0%} precision on valid"
            f"{how_far}, so nothing is written with this model unless a threshold is given."
        )
    v, t = threshold["valid"], threshold["test"]
    return (
        f"Writing genres into files (`write-tags`, the beets plugin): only where the probability is at least "
        f"**{threshold['min_probability']:.2f}**, the lowest cut at which written genres are right at least "
        f"{threshold['target_precision']:.0%} of the time on valid (at that cut and every stricter one). "
        f"Valid: {v['precision']:.1%} right, for {v['written']} of {v['recordings']} recordings "
        f"({v['coverage']:.0%}). Test, reported once: {t['precision']:.1%} right, for {t['written']} of "
        f"{t['recordings']} ({t['coverage']:.0%}); all test recordings: {t['accuracy_of_all']:.1%}."
        + _by_family(v, "valid")
        + _by_family(t, "test")
    )


def _by_family(scores: dict[str, Any], split: str) -> str:
    """' Right on valid, by source: GTZAN 91.5% of 94, other sources 87.0% of 46.' when recorded."""
    families = scores.get("by_family")
    if not families:
        return ""
    parts = [
        f"{name} {f['precision']:.1%} of {f['written']}" if f["precision"] is not None else f"{name}: none written"
        for name, f in (("GTZAN", families.get("gtzan")), ("other sources", families.get("other")))
        if f
    ]
    return f" Right on {split}, by source: " + ", ".join(parts) + "."


def open_set_text(open_set: dict[str, Any]) -> str:
    """The open-set check: how its design was chosen (held out), its rule, and its figures on valid and test."""
    info = open_set.get("info") or {}
    holdout = info.get("holdout") or {}
    candidates = holdout.get("candidates") or {}
    parts = [k for k in next(iter(candidates.values()), {}) if k != "held_out_mean"]
    rows = [
        f"Open-set check (is a song none of the ten genres?): a logistic regression on the model's "
        f"`{info.get('design')}` outputs (mean over the ten windows), fitted on {info.get('fitted_on')}; "
        f"rule: {info.get('rule')} (p_other >= {open_set['threshold']:.3f}). The design was chosen by held-out "
        "AUROC: each source left out (its ten-genre recordings against a held-out fold of `other` artists), and "
        "each family of `other` music left out of fitting (scored against valid's ten-genre recordings). "
        "Test was not used to choose.",
        "",
        "| reads | held-out mean AUROC | " + " | ".join(f"without {k}" for k in parts) + " |",
        "|---|---|" + "---|" * len(parts),
    ]
    for name, sc in sorted(candidates.items(), key=lambda kv: -kv[1]["held_out_mean"]):
        mark = " (shipped)" if name == holdout.get("chosen") else ""
        rows.append(
            f"| `{name}`{mark} | {sc['held_out_mean']:.3f} | " + " | ".join(f"{sc.get(k, 0):.3f}" for k in parts) + " |"
        )
    rows += [
        "",
        "| split | AUROC (max-probability baseline) | other flagged | ten-genre flagged | accuracy, unflagged "
        "(all ten-genre) |",
        "|---|---|---|---|---|",
    ]
    for split in ("valid", "test"):
        f = info.get(split)
        if not f:
            continue
        rows.append(
            f"| {split} ({f['ten_genre_recordings']} + {f['other_recordings']} other) | {f['auroc']:.3f} "
            f"({f['auroc_max_probability']:.3f}) | {f['other_flagged']:.1%} | {f['ten_genre_flagged']:.1%} | "
            f"{f['accuracy_unflagged']:.1%} ({f['accuracy_all_ten']:.1%}) |"
        )
    rule = info.get("write_rule")
    if rule:
        other_cut = rule.get("max_other_probability")
        cut = f" and p_other < {other_cut:.3f}" if other_cut is not None else ""
        rows += [
            "",
            f"Writing genres into files (`write-tags`, the beets plugin): a genre is written where its probability is "
            f">= {rule['min_probability']:.2f}{cut} ({rule['rule']}). Library precision = 0.7·w·r / (0.7·w + 0.3·o), "
            "with w the share of songs of the ten written, r how many of those are right, o the share of other "
            "music written.",
            "",
            "| split | rule | songs of the ten written | right | other written | precision, 70/30 library |",
            "|---|---|---|---|---|---|",
        ]
        for split in ("valid", "test"):
            f = info.get(split) or {}
            for key, name in (
                ("write_tags_without_verdict", "genre threshold alone"),
                ("write_tags", "with the open-set cut"),
            ):
                w = f.get(key)
                if not w:
                    continue
                right = f"{w['ten_genre_written_right']:.1%}" if w["ten_genre_written_right"] is not None else "–"
                precision = w["library_precision_70_30"]
                shown = f"{precision:.1%}" if precision is not None else "–"
                rows.append(
                    f"| {split} | {name} | {w['ten_genre_written']:.1%} ({w['ten_genre_written_count']}) | {right} | "
                    f"{w['other_written']:.1%} ({w['other_written_count']}) | {shown} |"
                )
    return "\n".join(rows)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def outside_text(outside: dict[str, Any]) -> str:
    """The outside head: its families, how it was chosen, each family's naming and the 70/30 library figures."""
    from .config import display_genre

    info = outside.get("info") or {}
    cut = outside.get("write_threshold")
    candidates = info.get("candidates") or {}
    rows = [
        "Outside the ten (which music a song of none of the ten sounds like): "
        + ", ".join(f"**{display_genre(f)}** (AllMusic {', '.join(g)})" for f, g in info.get("families", {}).items())
        + f". Design: {info.get('design')}, fitted on {info.get('fitted_on')}; C = {info.get('regularisation_c')} "
        f"chosen by {info.get('chosen_by')} ("
        + ", ".join(f"C={c}: macro-F1 {v['macro_f1']:.3f}, log-loss {v['log_loss']:.2f}" for c, v in candidates.items())
        + f"). A family is {info.get('name_rule')}, P(family | other) >= "
        + (f"{cut:.3f}" if cut is not None else "(none measured)")
        + f": {info.get('write_rule')}. Whether a song is other music stays the open-set verdict's, which yields "
        f"to a top genre of the ten that reaches {info.get('verdict_cut')} and is surer than it. Out of fold: each "
        "artist fold of train + valid scored by a head and a detector fitted without it; the network's own genre "
        "outputs on train recordings are fitted ones, so the ten's figures on train + valid are optimistic. Test "
        "was not used to choose.",
        "",
        "| family | split | recordings | flagged by the verdict | named right / named (songs of the ten named) | "
        "recall | precision |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, key in (("train + valid, out of fold", "cross_validation"), ("test", "test")):
        for family, f in ((info.get(key) or {}).get("families") or {}).items():
            rows.append(
                f"| {display_genre(family)} | {name} | {f['recordings']} | {f['flagged']} | {f['named_right']} / "
                f"{f['named']} ({f['named_songs_of_the_ten']}) | {_pct(f['recall'])} | {_pct(f['precision'])} |"
            )
    rows += [
        "",
        "On a library of 70 % songs of the ten and 30 % other music (precision: the share of written genres that "
        "are right, an outside family counting as right where it is among the recording's AllMusic genres; "
        "coverage: the share of the library that gets any genre written):",
        "",
        "| split | songs of the ten flagged | other music flagged | outside written (right; songs of the ten) | "
        "precision | coverage | precision, ten only | coverage, ten only |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, key in (("train + valid, out of fold", "cross_validation"), ("test", "test")):
        lib = (info.get(key) or {}).get("library")
        if not lib:
            continue
        rows.append(
            f"| {name} ({lib['ten_genre_recordings']} + {lib['other_recordings']} other) | "
            f"{lib['ten_genre_flagged']:.1%} | {lib['other_flagged']:.1%} | {lib['outside_written']} "
            f"({lib['outside_written_right']}; {lib['outside_written_songs_of_the_ten']}) | "
            f"{_pct(lib['library_precision_70_30'])} | {_pct(lib['library_coverage_70_30'])} | "
            f"{_pct(lib['library_precision_70_30_ten_only'])} | {_pct(lib['library_coverage_70_30_ten_only'])} |"
        )
    sources = info.get("held_out_sources") or {}
    if sources:
        rows += [
            "",
            "The open-set detector with each source's songs of the ten held out of fitting (and an artist fold of "
            "other music), its cut chosen on the remaining valid songs of the ten (<= 5 % flagged):",
            "",
            "| held-out source | songs of the ten | of them flagged | held-out other music flagged |",
            "|---|---|---|---|",
        ]
        rows += [
            f"| {s} | {v['songs_of_the_ten']} | {v['ten_flagged']:.1%} | {v['other_flagged']:.1%} |"
            for s, v in sources.items()
        ]
    fused = info.get("redecided_ten_valid") or {}
    if fused:
        worse = sum(v["fused_accuracy"] < v["shipped_accuracy"] for v in fused.values())
        rows += [
            "",
            "The ten re-decided by a logistic regression on genre log-probabilities + tag log-odds (C = 0.1, fitted "
            f"on train), against the shipped head on valid, per source (worse on {worse} of {len(fused)}; not "
            "shipped, the shipped head decides the ten): "
            + "; ".join(
                f"{s} {v['fused_accuracy']:.1%} against {v['shipped_accuracy']:.1%} ({v['songs']} songs)"
                for s, v in fused.items()
            )
            + ".",
        ]
    folds = (info.get("cross_validation") or {}).get("folds") or []
    if folds:
        rows += [
            "",
            "Per artist fold (train + valid): "
            + "; ".join(
                f"fold {f['fold']}: {f['named_right']} of {f['family_recordings']} family recordings named right, "
                f"{f['written_right']} of {f['written']} written right"
                for f in folds
            )
            + ".",
        ]
    return "\n".join(rows)


def mood_text(mood: dict[str, Any]) -> str:
    """The mood head: how it was chosen, its figures on valid and test, the confusion matrix on test."""
    info = mood.get("info") or {}
    cv = info.get("cross_validation") or {}
    rows = [
        f"Mood (4Q emotion quadrants): a logistic regression on the {info.get('reads')}; C = "
        f"{info.get('regularisation_c')} chosen by {info.get('chosen_by')} (macro-F1 "
        + ", ".join(f"C={c}: {v['macro_f1']:.3f}" for c, v in cv.items())
        + f"); fitted on {info.get('fitted_on')} (T = {mood['temperature']:.2f}). Moods are written into files at "
        + (f"p >= {mood['write_threshold']:.2f}" if mood.get("write_threshold") is not None else "no measured cut")
        + f" ({info.get('write_rule')}).",
        "",
        "| split | recordings | quadrant accuracy | macro-F1 | arousal | valence | written moods right (written) |",
        "|---|---|---|---|---|---|---|",
    ]
    for split in ("valid", "test"):
        f = info.get(split)
        if not f:
            continue
        w = f.get("written") or {}
        written = f"{w['precision']:.1%} ({w['coverage']:.0%})" if w.get("precision") is not None else "–"
        rows.append(
            f"| {split} | {f['recordings']} | {f['accuracy']:.1%} | {f['macro_f1']:.3f} | {f['arousal_accuracy']:.1%} "
            f"| {f['valence_accuracy']:.1%} | {written} |"
        )
    matrix = (info.get("test") or {}).get("confusion_matrix")
    if matrix:
        rows += ["", "Test confusion matrix (rows: true quadrant, columns: predicted):", ""]
        rows += ["| | Q1 | Q2 | Q3 | Q4 |", "|---|---|---|---|---|"]
        rows += [f"| Q{i + 1} | " + " | ".join(str(v) for v in row) + " |" for i, row in enumerate(matrix)]
    return "\n".join(rows)


def render(model_path: Path | None = None) -> str:
    from .models.checkpoint import load_checkpoint  # the report writer only: the Model page needs no torch

    ckpt = load_checkpoint(model_path)
    m, t = ckpt.metrics, ckpt.training
    head = m["test"]["headline"]
    parts = [
        f"Track level (all windows of a recording aggregated), `spread` windows with `mean` aggregation "
        f"(the app's default). Test split: {head['n']} recordings, evaluated once for this model. "
        "ms/recording: wall time per test recording in the same evaluation run (decode, features, model; "
        "CPU, 2 threads; the probe and MFCC rows exclude their one-off fitting).",
        "",
        baselines_table(m),
        "",
        "Per genre on the test split:",
        "",
        per_genre_table(m, ckpt.labels),
        "",
        "By source (GTZAN vs the 4Q/Emotify previews):",
        "",
        source_table(m),
        "",
        "Every window strategy and aggregation on the test split:",
        "",
        settings_table(m),
    ]
    if ckpt.calibration:
        parts += ["", "Calibration:", "", calibration_table(ckpt.calibration)]
        if "tag_threshold" in ckpt.calibration:
            parts += ["", tag_threshold_text(ckpt.calibration["tag_threshold"])]
        if "open_set" in ckpt.calibration:
            parts += ["", open_set_text(ckpt.calibration["open_set"])]
        if "outside" in ckpt.calibration:
            parts += ["", outside_text(ckpt.calibration["outside"])]
        if "mood" in ckpt.calibration:
            parts += ["", mood_text(ckpt.calibration["mood"])]
        if "embedding" in ckpt.calibration:
            parts += ["", embedding_text(ckpt.calibration["embedding"])]
    if "holdout" in t:
        h = t["holdout"]
        parts += [
            "",
            f"How this model was chosen: leave-one-source-out validation (`python -m genre_core holdout`). "
            f"Each candidate is trained once without each source and scored on that source's train and valid "
            "recordings; the rule is the mean of those macro-F1 scores (track level), highest first. Valid (trained "
            f"on every source) is shown beside it, not used to choose. The shipped model is `{t.get('candidate')}`.",
            "",
            holdout_table(h),
        ]
    parts += [
        "",
        f"Training: {t.get('parameters', 0):,} parameters, best epoch {t.get('best_epoch')} of "
        f"{t.get('epochs_run')}, {t.get('wall_minutes')} min on {t.get('device')} "
        f"({t.get('threads')} threads).",
    ]
    return "\n".join(parts)


def splice(document: Path, text: str) -> None:
    """Replace the text between the metrics markers of a markdown file."""
    content = document.read_text()
    before, rest = content.split(START, 1)
    _, after = rest.split(END, 1)
    document.write_text(f"{before}{START}\n{text}\n{END}{after}")
