"""Tutorial: convert a folder of DICOM files and read the conversion report."""

# %% [markdown]
# # Convert a DICOM folder
#
# A PACS export is a folder of files from several series, often with things that are not
# images (a structured report, a text file) and now and then a broken file. `medidenoise
# denoise INPUT OUTPUT` (or `md.convert_dicom_folder` from Python) writes one *derived* DICOM
# series per image series and a report of everything it found. This page builds a small
# export from real files that ship with pydicom, converts it and reads the report.
#
# ## A small export

# %%
import json
import shutil
from pathlib import Path

from pydicom.data import get_testdata_file

import medidenoise as md

export = Path("PACS_EXPORT")
sources = [("head", "693_UNCR.dcm"), ("thorax", "CT_small.dcm"), ("knee", "MR_small.dcm")]
for folder, name in sources:
    (export / folder).mkdir(parents=True)
    shutil.copy(get_testdata_file(name), export / folder / name)
(export / "notes.txt").write_text("exported by the PACS\n")
(export / "thorax" / "broken.dcm").write_bytes(b"DICM" * 10)  # not a readable DICOM file

for series in md.find_dicom_series(export):
    print(series)

# %% [markdown]
# `medidenoise series PACS_EXPORT/` prints the same list on the command line.
#
# ## Convert it
#
# The command-line form is `medidenoise denoise PACS_EXPORT/ DENOISED/`; from Python:

# %%
report = md.convert_dicom_folder(export, "DENOISED")
print(report.summary())

# %% [markdown]
# Each series is written under `DENOISED/` at the same relative folder as its source, with new
# UIDs, `DERIVED\SECONDARY` image type and a reference back to every source slice. The run
# also wrote `medidenoise-report.json` and a text version beside the series:

# %%
for path in sorted(Path("DENOISED").rglob("*")):
    if path.is_file():
        print(path)

# %%
saved = json.loads(Path("DENOISED/medidenoise-report.json").read_text())
print("sections:", sorted(saved))
print(json.dumps(saved["files"], indent=1)[:800])

# %% [markdown]
# Each converted series also got a quality figure (the `figure:` line of the summary): the
# source and the result at the same window, and what was removed. The head CT's:

# %%
import matplotlib.pyplot as plt  # noqa: E402  (each cell imports what it shows)

figure = next(
    line.split("figure: ")[1] for line in report.summary().splitlines() if "figure: " in line
)
plt.figure(figsize=(14, 5.5))
plt.imshow(plt.imread(figure))
plt.axis("off")

# %% [markdown]
# The derived series reads back like any other, in the same units:

# %%
original = md.read_volume(export / "head")
head = md.read_volume("DENOISED/head")
print(head.modality, head.array.shape, "same spacing:", head.spacing == original.spacing)
print(f"mean HU {original.array.mean():.1f} -> {head.array.mean():.1f}")

# %% [markdown]
# Running the same command again converts nothing: complete series are recognised and
# skipped, so a killed run is simply started again. What the exit codes mean, broken files,
# compression and the lock on the output folder: [Conversion details](../howto/conversion.md).
# Many series on many machines: [Dask](../howto/dask.md).
