# RetinaNet R50-FPN (COCO) anchors as (scale, ratio) pairs for mmdetection's PreciseAnchorGenerator, relative to a
# base size of 512: per level 3 octave scales (x1, x2^(1/3), x2^(2/3)) times ratios 0.5, 1.0, 2.0, listed ratio-major
# (every scale of ratio 0.5, then of 1.0, then of 2.0), which is mmdetection's AnchorGenerator order. 9 per level.
# Anchor centres stay at the cell origin (center_offset 0), as mmdetection's RetinaNet anchors are.

model = dict(
    bbox_head=dict(
        anchor_generator=dict(
            type='PreciseAnchorGenerator',
            strides=[8, 16, 32, 64, 128],
            anchor_base_size=512,
            scale_ratios=[
                # level 1, stride 8: scales 0.0625, 0.0787, 0.0992
                [(0.0625, 0.5), (0.0787, 0.5), (0.0992, 0.5),
                 (0.0625, 1.0), (0.0787, 1.0), (0.0992, 1.0),
                 (0.0625, 2.0), (0.0787, 2.0), (0.0992, 2.0)],
                # level 2, stride 16: scales 0.125, 0.1575, 0.1984
                [(0.125, 0.5), (0.1575, 0.5), (0.1984, 0.5),
                 (0.125, 1.0), (0.1575, 1.0), (0.1984, 1.0),
                 (0.125, 2.0), (0.1575, 2.0), (0.1984, 2.0)],
                # level 3, stride 32: scales 0.25, 0.315, 0.3969
                [(0.25, 0.5), (0.315, 0.5), (0.3969, 0.5),
                 (0.25, 1.0), (0.315, 1.0), (0.3969, 1.0),
                 (0.25, 2.0), (0.315, 2.0), (0.3969, 2.0)],
                # level 4, stride 64: scales 0.5, 0.63, 0.7937
                [(0.5, 0.5), (0.63, 0.5), (0.7937, 0.5),
                 (0.5, 1.0), (0.63, 1.0), (0.7937, 1.0),
                 (0.5, 2.0), (0.63, 2.0), (0.7937, 2.0)],
                # level 5, stride 128: scales 1.0, 1.2599, 1.5874
                [(1.0, 0.5), (1.2599, 0.5), (1.5874, 0.5),
                 (1.0, 1.0), (1.2599, 1.0), (1.5874, 1.0),
                 (1.0, 2.0), (1.2599, 2.0), (1.5874, 2.0)],
            ],
        ),
    ),
)
