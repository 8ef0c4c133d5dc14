"""Which frames the detectors look at: scene cuts (``cuts``) and new things appearing (``change``).

Keyframes come every ``keyframe_interval`` frames, at every cut, and where the change trigger
sees something new between two of them.
"""
