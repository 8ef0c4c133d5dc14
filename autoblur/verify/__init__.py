"""Verification: what was written is checked, by the detectors and without them.

- ``run_checks``: a run's three checks in order, and their report section;
- ``output``: the detectors look again at every removed region (``verify_and_repair``, which
  repairs what they find) and at whole frames sampled (``find_missed``);
- ``follow``: each removed mark followed through the input, asking no detector;
- ``repair``: the repairs applied to the output as it is;
- ``render``: what a render's verification needs from the scan (detectors, frames, spans).
"""
