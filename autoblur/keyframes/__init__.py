"""Which frames the detectors look at, and the search on them.

- ``cuts``: scene cuts;
- ``change``: new things appearing between two keyframes;
- ``search``: the detectors and the segmenter on keyframes, and once more near a lost track.

Keyframes come every ``keyframe_interval`` frames, at every cut, and where the change trigger
sees something new between two of them.
"""
