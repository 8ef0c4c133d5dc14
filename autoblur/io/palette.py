"""Pictures for palette codecs (GIF): each frame gets its own 256 colours.

FFmpeg's ``palettegen`` picks a frame's palette from its pixels and ``paletteuse`` maps the
frame onto it, dithered, keeping transparent pixels transparent; a fixed palette (what a plain
pixel-format conversion to 8 bits gives) bands every gradient.
"""

from __future__ import annotations

import av
import av.filter

from autoblur.io.convert import reformat

PALETTE_CODECS = {"gif"}  # encoders given palette pictures through this module
PALETTE_FORMAT = "pal8"
_GRAPH_INPUT = "rgba"  # what the frames are converted to before the palette is chosen


class PaletteEncoder:
    """An encoder of palette pictures (GIF) that takes frames in any pixel format.

    Args:
        context: an encoder whose ``pix_fmt`` is ``pal8``; frames and packets are in its
            time base.
    """

    def __init__(self, context: av.VideoCodecContext) -> None:
        self.context = context
        self._graph: av.filter.Graph | None = None

    def encode(self, frame: av.VideoFrame | None) -> list[av.Packet]:
        """Encode ``frame`` (any pixel format, ``pts`` in the encoder's time base), or flush."""
        if frame is not None:
            picture = reformat(frame, format=_GRAPH_INPUT)
            picture.pts, picture.time_base = frame.pts, self.context.time_base
            self._palettes(picture).push(picture)
        elif self._graph is not None:
            self._graph.push(None)
        packets = []
        for mapped in self._mapped():
            packets += self.context.encode(mapped)
        return packets + (self.context.encode(None) if frame is None else [])

    def _palettes(self, first: av.VideoFrame) -> av.filter.Graph:
        """The filter graph (made for the first frame's size): split, palettegen, paletteuse."""
        if self._graph is None:
            graph = av.filter.Graph()
            source = graph.add_buffer(
                width=first.width,
                height=first.height,
                format=_GRAPH_INPUT,
                time_base=self.context.time_base,
            )
            split = graph.add("split")
            choose = graph.add("palettegen", "stats_mode=single")
            apply = graph.add("paletteuse", "new=1")
            sink = graph.add("buffersink")
            source.link_to(split)
            split.link_to(choose, 0, 0)
            split.link_to(apply, 1, 0)
            choose.link_to(apply, 0, 1)
            apply.link_to(sink)
            graph.configure()
            self._graph = graph
        return self._graph

    def _mapped(self) -> list[av.VideoFrame]:
        """The palette pictures the graph has ready."""
        ready = []
        while self._graph is not None:
            try:
                ready.append(self._graph.pull())
            except (BlockingIOError, av.error.EOFError):
                break
        return ready
