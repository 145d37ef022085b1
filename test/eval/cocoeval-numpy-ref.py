"""Independent, deliberately unoptimised numpy re-statement of COCOeval (bbox, default params) used only as a
cross-check for src/eval/coco-eval.ts. Written from the documented semantics, not copied. Reads a
JSON list of {"gt": {...}, "dets": [...]} scenes on stdin, prints one list of 12 stats (repr floats) per scene."""
import json
import sys

import numpy as np


def iou_matrix(dets, gts):
    out = np.zeros((len(dets), len(gts)))
    for i, d in enumerate(dets):
        dx, dy, dw, dh = [float(v) for v in d['bbox']]
        for j, g in enumerate(gts):
            gx, gy, gw, gh = [float(v) for v in g['bbox']]
            w = min(dw + dx, gw + gx) - max(dx, gx)
            if w <= 0:
                continue
            h = min(dh + dy, gh + gy) - max(dy, gy)
            if h <= 0:
                continue
            inter = w * h
            union = dw * dh if g.get('iscrowd') else dw * dh + gw * gh - inter
            out[i, j] = inter / union
    return out


def evaluate(gt, dets):
    iou_thrs = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
    rec_thrs = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
    max_dets = [1, 10, 100]
    area_rngs = [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
    img_ids = sorted({im['id'] for im in gt['images']})
    cat_ids = sorted({c['id'] for c in gt['categories']})
    for n, d in enumerate(dets):
        d['id'] = n + 1
        d['area'] = d['bbox'][2] * d['bbox'][3]
    by_key_gt, by_key_dt = {}, {}
    for g in gt['annotations']:
        by_key_gt.setdefault((g['image_id'], g['category_id']), []).append(g)
    for d in dets:
        by_key_dt.setdefault((d['image_id'], d['category_id']), []).append(d)

    T, R, K, A, M = len(iou_thrs), len(rec_thrs), len(cat_ids), len(area_rngs), len(max_dets)
    per_img = {}
    for k in cat_ids:
        for ai, (lo, hi) in enumerate(area_rngs):
            for i in img_ids:
                g_all = by_key_gt.get((i, k), [])
                d_all = by_key_dt.get((i, k), [])
                if not g_all and not d_all:
                    continue
                d_sorted = [d_all[x] for x in np.argsort([-d['score'] for d in d_all], kind='mergesort')][:max_dets[-1]]
                ig = [1 if (g.get('iscrowd') or g['area'] < lo or g['area'] > hi) else 0 for g in g_all]
                g_ord = np.argsort(ig, kind='mergesort')
                g_s = [g_all[x] for x in g_ord]
                ig_s = np.array([ig[x] for x in g_ord])
                crowd = [1 if g.get('iscrowd') else 0 for g in g_s]
                ious = iou_matrix(d_sorted, g_s)
                gtm = np.zeros((T, len(g_s)))
                dtm = np.zeros((T, len(d_sorted)))
                dtig = np.zeros((T, len(d_sorted)))
                if len(g_s) and len(d_sorted):
                    for ti, t in enumerate(iou_thrs):
                        for di, d in enumerate(d_sorted):
                            best, m = min(t, 1 - 1e-10), -1
                            for gi in range(len(g_s)):
                                if gtm[ti, gi] > 0 and not crowd[gi]:
                                    continue
                                if m > -1 and ig_s[m] == 0 and ig_s[gi] == 1:
                                    break
                                if ious[di, gi] < best:
                                    continue
                                best, m = ious[di, gi], gi
                            if m == -1:
                                continue
                            dtig[ti, di] = ig_s[m]
                            dtm[ti, di] = g_s[m]['id']
                            gtm[ti, m] = d['id']
                out_rng = np.array([d['area'] < lo or d['area'] > hi for d in d_sorted]).reshape((1, len(d_sorted)))
                dtig = np.logical_or(dtig, np.logical_and(dtm == 0, np.repeat(out_rng, T, 0)))
                per_img[(k, ai, i)] = (np.array([d['score'] for d in d_sorted]), dtm, dtig, ig_s)

    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    for ki, k in enumerate(cat_ids):
        for ai in range(A):
            for mi, md in enumerate(max_dets):
                E = [per_img[(k, ai, i)] for i in img_ids if (k, ai, i) in per_img]
                if not E:
                    continue
                scores = np.concatenate([e[0][0:md] for e in E])
                order = np.argsort(-scores, kind='mergesort')
                dtm = np.concatenate([e[1][:, 0:md] for e in E], axis=1)[:, order]
                dtig = np.concatenate([e[2][:, 0:md] for e in E], axis=1)[:, order]
                gtig = np.concatenate([e[3] for e in E])
                npig = np.count_nonzero(gtig == 0)
                if npig == 0:
                    continue
                tps = np.cumsum(np.logical_and(dtm, np.logical_not(dtig)), axis=1).astype(np.float64)
                fps = np.cumsum(np.logical_and(np.logical_not(dtm), np.logical_not(dtig)), axis=1).astype(np.float64)
                for ti in range(T):
                    tp, fp = tps[ti], fps[ti]
                    nd = len(tp)
                    rc = tp / npig
                    pr = list(tp / (fp + tp + np.spacing(1)))
                    recall[ti, ki, ai, mi] = rc[-1] if nd else 0
                    for x in range(nd - 1, 0, -1):
                        pr[x - 1] = max(pr[x - 1], pr[x])
                    idx = np.searchsorted(rc, rec_thrs, side='left')
                    q = np.zeros((R,))
                    for ri, pi in enumerate(idx):
                        if pi >= nd:
                            break
                        q[ri] = pr[pi]
                    precision[ti, :, ki, ai, mi] = q

    def summ(ap, thr=None, area=0, md=100):
        mi = max_dets.index(md)
        if ap:
            s = precision
            if thr is not None:
                s = s[np.where(thr == iou_thrs)[0]]
            s = s[:, :, :, area, mi]
        else:
            s = recall
            if thr is not None:
                s = s[np.where(thr == iou_thrs)[0]]
            s = s[:, :, area, mi]
        v = s[s > -1]
        return -1.0 if len(v) == 0 else float(np.mean(v))

    stats = [summ(1), summ(1, .5), summ(1, .75), summ(1, area=1), summ(1, area=2), summ(1, area=3),
             summ(0, md=1), summ(0, md=10), summ(0), summ(0, area=1), summ(0, area=2), summ(0, area=3)]
    return [repr(float(s)) for s in stats]


print(json.dumps([evaluate(scene['gt'], scene['dets']) for scene in json.load(sys.stdin)]))
