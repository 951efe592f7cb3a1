"""The words on the wire: topic levels under the prefix and the values they hold.

Home Assistant's discovery templates, the sink, the forget command and the tests all
read them from here, so a rename cannot leave one side speaking the old word.
"""

from __future__ import annotations

from typing import Literal

from edge.types import SEVERAL_FACES

# the levels under mqtt.topic_prefix
AVAILABILITY, CAMERA, EMOTION, EVENTS, PAUSED, SENSORS, SNAPSHOT, STATE, STATS = (
    "availability",
    "camera",
    "emotion",
    "events",
    "paused",
    "sensors",
    "snapshot",
    "state",
    "stats",
)
TOPIC_LEVELS = (AVAILABILITY, CAMERA, EMOTION, EVENTS, PAUSED, SENSORS, SNAPSHOT, STATE, STATS)
RETAINED_LEVELS = (AVAILABILITY, CAMERA, STATE, PAUSED)  # what a run leaves on the broker
PAUSED_SET = f"{PAUSED}/set"  # where Home Assistant's switch (anyone) sends ON or OFF
ON, OFF = "ON", "OFF"

# …/availability, and the last will
ONLINE, OFFLINE = "online", "offline"

# …/camera: the source's state as the pipeline reports it, plus "stalled" (streaming, but
# no frame for a while) and "paused" (…/paused is ON)
CameraState = Literal["starting", "streaming", "stalled", "reconnecting", "ended", "paused"]
STREAMING: CameraState = "streaming"
STALLED: CameraState = "stalled"
PAUSED_CAMERA: CameraState = "paused"  # switched off for privacy (…/paused)

NO_FACE_STATE = "none"  # what …/state holds when no face has been seen for a while
SEVERAL_FACES_STATE = SEVERAL_FACES  # …/state while several faces are seen (default policy)
