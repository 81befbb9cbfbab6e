"""Labelled evaluation sets per auditor, and the measurement of each auditor against its set.

Every set is built by a script from data that ships inside installed packages (scikit-image's
photos, fonts that come with Pillow and matplotlib) or is generated procedurally, with a fixed
seed: nothing is downloaded, and the labels are written by the builder, never by the detector
under test. `bench/accuracy.py` runs every measurement and prints the BENCH lines;
docs/auditors.md publishes the figures.

- `metrics`: counting outcomes into precision, recall and false-positive rate.
- `nsfw`, `pii`, `near_duplicate`: one module per auditor, each with its set builder and a
  `measure(...) -> Measurement`.
"""
