"""Batch jobs: many videos, one country rule file, resumable, on one machine or a Ray cluster."""

from autoblur.batch.items import BatchItem, discover_items
from autoblur.batch.runner import BatchOptions, run_batch

__all__ = ["BatchItem", "BatchOptions", "discover_items", "run_batch"]
