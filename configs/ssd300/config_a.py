# Pruned SSD300, configuration A of the anchor-pruning paper: 4, 4, 5, 3, 2, 1 anchors per level (19 of 30).
# Same as `--remove 5,7,13,16,17,19,22,25,26,27,28`. Only the kept pairs change; the rest comes from the baseline.
_base_ = ['./baseline.py']

model = dict(
    bbox_head=dict(
        anchor_generator=dict(
            scale_ratios=[
                [(0.07, 1.0), (0.07, 2.0), (0.07, 0.5), (0.1024, 1.0)],
                [(0.15, 1.0), (0.15, 3.0), (0.15, 1 / 3), (0.224, 1.0)],
                [(0.33, 1.0), (0.33, 2.0), (0.33, 3.0), (0.33, 1 / 3), (0.4102, 1.0)],
                [(0.51, 3.0), (0.51, 1 / 3), (0.5932, 1.0)],
                [(0.69, 2.0), (0.69, 0.5)],
                [(0.9557, 1.0)],
            ],
        ),
    ),
)
