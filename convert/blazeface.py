"""BlazeFace detector models, taken from the mediapipe 0.10.21 wheel (Apache-2.0).

Current mediapipe wheels ship no model files, and nothing may be downloaded at run
time, so the two BlazeFace files live in models/; this reproduces them.
"""

from __future__ import annotations

from pathlib import Path

from convert.common import read_from_wheel, write_output

REQUIREMENT = "mediapipe==0.10.21"
SHORT_RANGE_SHA256 = "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"
FULL_RANGE_SHA256 = "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1"
MEMBERS = {
    "face_detection_short_range.tflite": SHORT_RANGE_SHA256,
    "face_detection_full_range_sparse.tflite": FULL_RANGE_SHA256,
}
FOLDER_IN_WHEEL = "mediapipe/modules/face_detection/"


def extract_blazeface(out_dir: Path, wheel: Path | None = None) -> list[Path]:
    wanted = {FOLDER_IN_WHEEL + name: sha256 for name, sha256 in MEMBERS.items()}
    written = []
    for member, data in read_from_wheel(wheel, REQUIREMENT, wanted).items():
        target = out_dir / Path(member).name
        write_output(target, data)
        written.append(target)
    return written
