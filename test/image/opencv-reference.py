"""Reference outputs from OpenCV for test/image/opencv-parity.test.ts (run only where python3 has cv2).
stdin: {"resize": [{"w", "h", "cn", "dw", "dh", "hex"}...], "read": [path...]}
stdout: {"resize": [hex...], "read": [{"w", "h", "hex"} (RGB)...], "version": cv2.__version__}"""
import json
import sys

import cv2
import numpy as np

job = json.load(sys.stdin)
out = {'version': cv2.__version__, 'resize': [], 'read': []}
for r in job['resize']:
    shape = (r['h'], r['w']) if r['cn'] == 1 else (r['h'], r['w'], r['cn'])
    img = np.frombuffer(bytes.fromhex(r['hex']), dtype=np.uint8).reshape(shape)
    out['resize'].append(cv2.resize(img, (r['dw'], r['dh']), interpolation=cv2.INTER_LINEAR).tobytes().hex())
for path in job['read']:
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    out['read'].append({'w': img.shape[1], 'h': img.shape[0], 'hex': img[:, :, ::-1].tobytes().hex()})
print(json.dumps(out))
