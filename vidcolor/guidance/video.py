"""What a video's model thread runs instead of the bare model where the user knows colours: the frame's hints
(``track.HintTrack``) go into the model with it, and a reference of the view (``reference.Reference``) takes over
the colour where the frame shows what it shows."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..colorizer import Colorizer, Guided, NetworkRun
from .hints import Hint
from .reference import Reference
from .track import HintTrack


class VideoGuide:
    """Per stream, frames in order: ``hint_planes`` of each frame's time (made ahead of the model, on the file
    pipeline's decoder thread), then ``Colorizer.infer`` with them and the reference in its two halves
    (``run_network`` on the model's thread, ``guided`` on the smoother's, with what the smoother needs beside the
    planes)."""

    def __init__(self, colorizer: Colorizer, hints: Sequence[Hint] = (), reference: Reference | None = None) -> None:
        if hints:
            colorizer.hinted_backend()  # a model without hint attention is refused before the first frame
        self.colorizer, self.reference = colorizer, reference
        self.track = HintTrack(hints) if hints else None

    def hint_planes(self, model_input: torch.Tensor, times: Sequence[float]) -> torch.Tensor | None:
        """The model's input L* (B, 1, h, w) of frames at ``times`` (seconds) -> their hint planes, or None."""
        return self.track.planes(model_input, times) if self.track is not None else None

    def run_network(self, model_input: torch.Tensor, hint_planes: torch.Tensor | None) -> NetworkRun:
        return self.colorizer.run_network(model_input, hint_planes, self.reference)

    def guided(self, run: NetworkRun) -> Guided:
        return self.colorizer.guided(run, self.reference)
