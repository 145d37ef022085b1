# The anchor-pruning paper's pruned RetinaNet: no anchors on level 1 (stride 8), and on levels 2-5 every pair but the
# largest scale at ratio 1.0 (8 of 9). Pairs are listed per scale here, not in the baseline's ratio-major order; the
# kept anchors keep the baseline's order. 1.26 stands for the baseline's 1.2599, as in the paper's own file.
_base_ = ['./baseline.py']

model = dict(
    bbox_head=dict(
        anchor_generator=dict(
            scale_ratios=(
                (),
                ((0.125, 0.5), (0.125, 1.0), (0.125, 2.0),
                 (0.1575, 0.5), (0.1575, 1.0), (0.1575, 2.0),
                 (0.1984, 0.5), (0.1984, 2.0)),
                ((0.25, 0.5), (0.25, 1.0), (0.25, 2.0),
                 (0.315, 0.5), (0.315, 1.0), (0.315, 2.0),
                 (0.3969, 0.5), (0.3969, 2.0)),
                ((0.5, 0.5), (0.5, 1.0), (0.5, 2.0),
                 (0.63, 0.5), (0.63, 1.0), (0.63, 2.0),
                 (0.7937, 0.5), (0.7937, 2.0)),
                ((1.0, 0.5), (1.0, 1.0), (1.0, 2.0),
                 (1.26, 0.5), (1.26, 1.0), (1.26, 2.0),
                 (1.5874, 0.5), (1.5874, 2.0)),
            ),
        ),
    ),
)
