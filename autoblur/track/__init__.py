"""Carrying masks between keyframes: propagator backends and the track manager."""

from autoblur.track.base import PROPAGATORS, MaskPropagator, build_propagator
from autoblur.track.manager import Track, TrackManager

__all__ = ["PROPAGATORS", "MaskPropagator", "Track", "TrackManager", "build_propagator"]
