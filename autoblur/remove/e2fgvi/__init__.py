"""E2FGVI: our implementation of the official video inpainting model and its HQ variant."""
