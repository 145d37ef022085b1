# Pruned SSD300, configuration D of the anchor-pruning paper: 0, 2, 5, 2, 2, 1 anchors per level (12 of 30).
# Level 1 (the 38x38 map) keeps no anchor at all: its head convolutions disappear from the compiled model.
_base_ = ['./baseline.py']

model = dict(
    bbox_head=dict(
        anchor_generator=dict(
            scale_ratios=[
                (),
                [(0.15, 1.0), (0.224, 1.0)],
                [(0.33, 1.0), (0.33, 2.0), (0.33, 3.0), (0.33, 1 / 3), (0.4102, 1.0)],
                [(0.51, 3.0), (0.5932, 1.0)],
                [(0.69, 2.0), (0.69, 0.5)],
                [(0.9557, 1.0)],
            ],
        ),
    ),
)
