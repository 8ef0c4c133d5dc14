"""Small random-weight models in the file formats of the real ones, for CPU tests.

Grounding-DINO: a ``transformers`` folder (config, safetensors weights, processor settings and
a tokenizer with a vocabulary written here). SAM: a ``.pth`` state dict of the official architecture
with a narrow, shallow image encoder (the rest of SAM as in the official checkpoints).
"""

from __future__ import annotations

from pathlib import Path

import torch
from segment_anything.build_sam import _build_sam
from transformers import (
    BertConfig,
    BertTokenizerFast,
    GroundingDinoConfig,
    GroundingDinoForObjectDetection,
    GroundingDinoImageProcessor,
    GroundingDinoProcessor,
    SwinConfig,
)

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "logo", "can", "box", "red", "bull"]
VOCAB += ["nike", "biscuit", "windows", "opencv", "a", "the", "of", "##s", "blue", "green"]


def write_tiny_grounding_dino(folder: Path, seed: int = 0) -> Path:
    """Save a random tiny Grounding-DINO with its processor into ``folder``."""
    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(VOCAB)})
    backbone = SwinConfig(
        embed_dim=16,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 1, 1],
        window_size=7,
        out_features=["stage2", "stage3", "stage4"],
    )
    text = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    config = GroundingDinoConfig(
        backbone_config=backbone,
        text_config=text,
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        num_queries=30,
        max_text_len=16,
    )
    GroundingDinoForObjectDetection(config).save_pretrained(folder)
    images = GroundingDinoImageProcessor(size={"shortest_edge": 224, "longest_edge": 400})
    GroundingDinoProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


TINY_SAM = {
    "encoder_embed_dim": 32,
    "encoder_depth": 2,
    "encoder_num_heads": 1,
    "encoder_global_attn_indexes": [1],
}
VIT_B = {
    "encoder_embed_dim": 768,
    "encoder_depth": 12,
    "encoder_num_heads": 12,
    "encoder_global_attn_indexes": [2, 5, 8, 11],
}


def write_sam_checkpoint(path: Path, architecture: dict = TINY_SAM, seed: int = 0) -> Path:
    """Save a random SAM state dict (official key names and layout) to ``path``."""
    torch.manual_seed(seed)
    torch.save(_build_sam(**architecture, checkpoint=None).state_dict(), path)
    return path
