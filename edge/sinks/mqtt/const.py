"""The words on the wire: topic levels under the prefix and the values they hold.

Home Assistant's discovery templates, the sink, the forget command and the tests all
read them from here, so a rename cannot leave one side speaking the old word.
"""

from __future__ import annotations

from typing import Literal

# the levels under mqtt.topic_prefix
AVAILABILITY, CAMERA, EMOTION, SENSORS, STATE, STATS = (
    "availability",
    "camera",
    "emotion",
    "sensors",
    "state",
    "stats",
)
TOPIC_LEVELS = (AVAILABILITY, CAMERA, EMOTION, SENSORS, STATE, STATS)
RETAINED_LEVELS = (AVAILABILITY, CAMERA, STATE)  # what a run leaves on the broker

# …/availability, and the last will
ONLINE, OFFLINE = "online", "offline"

# …/camera: the source's state as the pipeline reports it, plus "stalled" (streaming, but
# no frame for a while)
CameraState = Literal["starting", "streaming", "stalled", "reconnecting", "ended"]
STREAMING: CameraState = "streaming"
STALLED: CameraState = "stalled"

NO_FACE_STATE = "none"  # what …/state holds when no face has been seen for a while
# …/state under the default face policy while several faces are seen: the original
# design's message, since none of them is classified
SEVERAL_FACES_STATE = "several faces"
