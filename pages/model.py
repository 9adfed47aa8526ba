"""Model: the shipped checkpoint's measured quality, read from the checkpoint."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import common

clf = common.classifier()
labels = list(clf.labels)
st.title("The shipped model")

test = clf.metrics.get("test")
if not test:
    st.warning(
        "This checkpoint records no test-split evaluation. Run `python -m genre_core evaluate --split test --save`."
    )
    st.stop()

head = test["headline"]
cols = st.columns(4)
cols[0].metric("Test accuracy", f"{head['accuracy']:.1%}")
cols[1].metric("Test macro-F1", f"{head['macro_f1']:.3f}")
cols[2].metric("Test recordings", test["recordings"])
valid_head = clf.metrics.get("valid", {}).get("headline")
cols[3].metric("Valid macro-F1", f"{valid_head['macro_f1']:.3f}" if valid_head else "n/a")
st.caption(
    f"Track level: each recording's {clf.config.features.n_windows} windows "
    f"({head['strategy']}, {head['aggregate']}), exactly as the Dashboard classifies an upload."
)

st.subheader("Per genre (test split)")
report = head["per_genre"]
table = pd.DataFrame(
    [
        {
            "genre": g,
            "precision": report[g]["precision"],
            "recall": report[g]["recall"],
            "F1": report[g]["f1-score"],
            "ROC-AUC": head["roc_auc"].get(g),
            "recordings": int(report[g]["support"]),
        }
        for g in labels
    ]
)
st.dataframe(
    table,
    hide_index=True,
    column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("precision", "recall", "F1", "ROC-AUC")},
)

st.subheader("Confusion matrix (test split)")
st.plotly_chart(common.confusion_figure(head["confusion_matrix"], labels), width="stretch", key="confusion")

st.subheader("Against the baselines (test split, same windows)")
rows = []
for name, results in test["models"].items():
    for setting, row in results.items():
        rows.append({"model": name, "setting": setting, "accuracy": row["accuracy"], "macro-F1": row["macro_f1"]})
st.dataframe(pd.DataFrame(rows), hide_index=True)

calibration = clf.checkpoint.calibration
if calibration:
    st.subheader("Calibration")
    st.markdown(
        f"Probabilities are divided by a temperature of **{calibration['temperature']:.2f}** before the softmax, "
        "fitted on the valid split so that a shown 70 % is right about 70 % of the time. Expected calibration "
        "error (10 bins, track level):"
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "split": s,
                    "ECE before": calibration[s]["ece_before"],
                    "ECE after": calibration[s]["ece_after"],
                    "NLL before": calibration[s]["nll_before"],
                    "NLL after": calibration[s]["nll_after"],
                }
                for s in ("valid", "test")
                if s in calibration
            ]
        ),
        hide_index=True,
    )

st.subheader("By source")
by_source = pd.DataFrame([{"source": k, **v} for k, v in head["by_source"].items()])
st.dataframe(by_source, hide_index=True)

st.subheader("Training data and limits")
training = clf.checkpoint.training
counts = training.get("data", {}).get("recordings_per_split_and_genre", {})
if counts:
    st.dataframe(pd.DataFrame(counts).reindex(labels).fillna(0).astype(int), width="content")
st.markdown(
    f"""
- Trained on {sum(counts.get("train", {}).values())} recordings: partial GTZAN plus 30–60-s previews
  from the 4Q and Emotify research datasets; best epoch {training.get("best_epoch")} of
  {training.get("epochs_run")}, {training.get("wall_minutes")} min on {training.get("device", "cpu")}.
- Ten genres only: music outside them (electronic, folk, Latin…) is forced into the nearest of the ten.
- GTZAN's known faults (repeated artists, a few mislabels) and small test classes (3 disco recordings)
  make per-genre figures noisy; treat differences of a few points as noise.
"""
)
