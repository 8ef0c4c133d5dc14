"""Splitting one long file into pieces that can be processed apart and joined again."""

from autoblur.chunks.plan import ChunkPlan, FrameIndex, Piece, plan_chunks, read_frame_index

__all__ = ["ChunkPlan", "FrameIndex", "Piece", "plan_chunks", "read_frame_index"]
