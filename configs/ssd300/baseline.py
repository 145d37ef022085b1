# SSD300 (COCO) anchors as (scale, ratio) pairs for mmdetection's PreciseAnchorGenerator, the form the anchor-pruning
# paper (Bonnaerens et al., CVIU 2022) states them in. Only the anchor part of the model config is given here.
# A pair (s, r) is an anchor of width 300*s/sqrt(r) and height 300*s*sqrt(r) (r = height / width).
# 30 anchors per cell position in total: 4, 6, 6, 6, 4, 4 on the 38, 19, 10, 5, 3, 1 feature maps (8732 boxes).

input_size = 300

model = dict(
    bbox_head=dict(
        anchor_generator=dict(
            type='PreciseAnchorGenerator',
            strides=[8, 16, 32, 64, 100, 300],
            anchor_base_size=input_size,
            centers=[(4, 4), (8, 8), (16, 16), (32, 32), (50, 50), (150, 150)],
            scale_ratios=[
                # level 1, stride 8
                [(0.07, 1.0), (0.07, 2.0), (0.07, 0.5), (0.1024, 1.0)],
                # level 2, stride 16
                [(0.15, 1.0), (0.15, 2.0), (0.15, 3.0), (0.15, 0.5), (0.15, 1 / 3),
                 (0.224, 1.0)],
                # level 3, stride 32
                [(0.33, 1.0), (0.33, 2.0), (0.33, 3.0), (0.33, 0.5), (0.33, 1 / 3),
                 (0.4102, 1.0)],
                # level 4, stride 64
                [(0.51, 1.0), (0.51, 2.0), (0.51, 3.0), (0.51, 0.5), (0.51, 1 / 3),
                 (0.5932, 1.0)],
                # level 5, stride 100
                [(0.69, 1.0), (0.69, 2.0), (0.69, 0.5), (0.7747, 1.0)],
                # level 6, stride 300
                [(0.87, 1.0), (0.87, 2.0), (0.87, 0.5), (0.9557, 1.0)],
            ],
        ),
    ),
)
