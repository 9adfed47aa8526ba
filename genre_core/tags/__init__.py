"""Writing into music files: how a `tag` table becomes file tags, and back.

Each model is read once per run into one record (`model_record`). A table row (a song's genre,
probabilities, open-set verdict, mood) is planned file by file (`write_tags`, `write_moods`) against that
model's measured thresholds (`write_thresholds`), in the owner's genre names (`genre_names`), one genre per
album where asked (`albums`). Nothing is written on a dry run. With `--apply`
each file's previous field goes into the per-run undo journal first (`tag_journal`), then the file is written
atomically through mutagen (`filetags`), and the table records the file's new size and mtime (`table_sync`).
`plan_report` prints what was and was not done. The beets plugin uses the same rules.
"""
