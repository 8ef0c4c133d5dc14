"""Building the detectors a job's cues need, or saying why one cannot run."""

from __future__ import annotations

from collections.abc import Sequence

from autoblur.errors import CheckpointError, ConfigError
from autoblur.job import Job
from autoblur.models.extra import INSTALL_HINT
from autoblur.types import BrandCue
from detectors import CUE_FIELDS, DETECTORS, Detector, available_detectors, load_detector


def build_detectors(cues: Sequence[BrandCue], job: Job) -> list[Detector]:
    """Detectors for the cue kinds the brands use.

    A detector that cannot run (not installed, or its model missing) fails the run when the
    user asked for it on the command line (``job.required_detectors``); for cues from a rule
    file it adds a notice and the others run.

    Raises:
        ConfigError: a required detector is not installed, or no detector can run at all.
        CheckpointError: a required detector's model is missing, saying how to fetch it.
    """
    detectors = []
    for name, cue_field in CUE_FIELDS.items():
        users = [cue for cue in cues if getattr(cue, cue_field)]
        if not users:
            continue
        brands = ", ".join(cue.name for cue in users)
        if not load_detector(name):
            reason = (
                f"need the {name!r} detector, which is not available in this installation "
                f"({INSTALL_HINT})"
            )
            if name in job.required_detectors:
                raise ConfigError(
                    f"the {name!r} detector ({cue_field}) is not available in this installation; "
                    f"{INSTALL_HINT}"
                )
        else:
            try:
                detectors.append(DETECTORS.build(name, users, job.config))
                continue
            except CheckpointError as exc:
                if name in job.required_detectors:
                    raise
                reason = f"cannot run: {exc}"
        job.notices.append(
            f"'{cue_field}' cues of {len(users)} brand(s) ({brands}) {reason}; they are ignored"
        )
    if not detectors:
        raise ConfigError(
            "nothing to look for: give --logo images, --text words or --prompt phrases (or a "
            f"rule file with them); available detectors: {', '.join(available_detectors())}"
        )
    return detectors
