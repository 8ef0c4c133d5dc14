"""Video decoding and encoding with PyAV: exact timestamps, audio copied untouched."""

from autoblur.io.reader import VideoFrame, VideoInfo, VideoReader
from autoblur.io.writer import VideoWriter

__all__ = ["VideoFrame", "VideoInfo", "VideoReader", "VideoWriter"]
