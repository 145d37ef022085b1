# Pruned SSD300, configuration B of the anchor-pruning paper: 2, 4, 5, 3, 2, 1 anchors per level (17 of 30).
# Like A, but level 1 keeps only its two square anchors and level 5 keeps (0.69, 1) and (0.69, 2).
_base_ = ['./baseline.py']

model = dict(
    bbox_head=dict(
        anchor_generator=dict(
            scale_ratios=[
                [(0.07, 1.0), (0.1024, 1.0)],
                [(0.15, 1.0), (0.15, 3.0), (0.15, 1 / 3), (0.224, 1.0)],
                [(0.33, 1.0), (0.33, 2.0), (0.33, 3.0), (0.33, 1 / 3), (0.4102, 1.0)],
                [(0.51, 3.0), (0.51, 1 / 3), (0.5932, 1.0)],
                [(0.69, 1.0), (0.69, 2.0)],
                [(0.9557, 1.0)],
            ],
        ),
    ),
)
