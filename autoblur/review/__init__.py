"""The review workflow: what a person looks at and decides between a scan and a render.

- ``occurrences``: one entry per appearance of a mark within a shot (``build_occurrences``);
- ``saved_detections``: every track's mask on every frame, kept by a scan for render;
- ``decisions``: what a reviewer chose for each occurrence (YAML or JSON);
- ``crops``: before/after crops of each occurrence for the review sheet;
- ``worst``: each track's worst frame, where the fill was least sure;
- ``audit``: the record of a render: what was removed or kept, on whose decision.
"""
