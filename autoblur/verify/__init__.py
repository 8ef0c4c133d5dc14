"""Verification: the detectors look again at what was written, and what they find is repaired.

- ``output``: the verification pass of a run (``verify_and_repair``), whole frames sampled
  and every removed region looked at again;
- ``repair``: the repairs applied to the output as it is;
- ``render``: what a render's verification needs from the scan (detectors, frames, spans).
"""
