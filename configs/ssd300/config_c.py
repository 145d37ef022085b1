# Pruned SSD300, configuration C of the anchor-pruning paper: 1, 3, 5, 3, 2, 1 anchors per level (15 of 30).
# Level 1 keeps one anchor, level 2 three; levels 3 to 6 are as in configuration A.
_base_ = ['./baseline.py']

model = dict(
    bbox_head=dict(
        anchor_generator=dict(
            scale_ratios=[
                [(0.07, 1.0)],
                [(0.15, 1.0), (0.15, 3.0), (0.224, 1.0)],
                [(0.33, 1.0), (0.33, 2.0), (0.33, 3.0), (0.33, 1 / 3), (0.4102, 1.0)],
                [(0.51, 3.0), (0.51, 1 / 3), (0.5932, 1.0)],
                [(0.69, 2.0), (0.69, 0.5)],
                [(0.9557, 1.0)],
            ],
        ),
    ),
)
