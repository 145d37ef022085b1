// Stable orderings of typed arrays by a numeric key, descending, for the hot loops of search and COCO evaluation
// (ranking one image's score pairs, merging a candidate's detections of all images by score). LSD radix sort on
// 16-bit digits (a digit every key shares is skipped); small inputs go through a comparison sort. Ties keep their
// input order, which is what both callers rely on.

const SMALL = 1024;

/** Grow-only scratch of one ordering (one instance per thread). */
export class OrderScratch {
  private hi = new Uint32Array(0);
  private lo = new Uint32Array(0);
  private tmp = new Int32Array(0);
  private readonly count = new Int32Array(65537);
  private f64 = new Float64Array(1);
  private f64bits = new Uint32Array(this.f64.buffer);
  private f32view: Float32Array | undefined;
  private f32bits: Uint32Array | undefined;
  private readonly count11 = new Int32Array(2049);

  private ensure(n: number): void {
    if (this.hi.length >= n) return;
    const size = Math.max(n, 2 * this.hi.length);
    this.hi = new Uint32Array(size);
    this.lo = new Uint32Array(size);
    this.tmp = new Int32Array(size);
  }

  /**
   * order[0..n) = 0..n-1 sorted by key[i] descending, ties in index order. `key` holds unsigned 32-bit keys (e.g. the
   * bit patterns of non-negative float32 values, whose integer order is their numeric order).
   */
  orderU32Desc(key: Uint32Array, n: number, order: Int32Array): void {
    if (n <= SMALL) return smallOrder(n, order, (a, b) => key[b]! - key[a]! || a - b);
    this.ensure(n);
    const inv = this.lo;
    for (let i = 0; i < n; i++) inv[i] = ~key[i]! >>> 0; // ascending on ~key = descending on key
    for (let i = 0; i < n; i++) order[i] = i;
    this.pass11(inv, 0, n, order);
    this.pass11(inv, 11, n, order);
    this.pass11(inv, 22, n, order);
  }

  /** One stable counting pass over an 11-bit digit (key >>> shift) & 0x7ff; skipped when all digits agree. */
  private pass11(key: Uint32Array, shift: number, n: number, order: Int32Array): void {
    const count = this.count11;
    count.fill(0);
    for (let i = 0; i < n; i++) count[((key[order[i]!]! >>> shift) & 0x7ff) + 1]!++;
    for (let d = 1; d <= 2048; d++) if (count[d] === n) return;
    for (let d = 0; d < 2048; d++) count[d + 1]! += count[d]!;
    const tmp = this.tmp;
    for (let i = 0; i < n; i++) {
      const o = order[i]!;
      tmp[count[(key[o]! >>> shift) & 0x7ff]!++] = o;
    }
    order.set(tmp.subarray(0, n));
  }

  /** order[0..n) = 0..n-1 sorted by value[i] descending (finite doubles; -0 = +0), ties in index order. */
  orderF64Desc(value: Float64Array, n: number, order: Int32Array): void {
    if (n <= SMALL)
      return smallOrder(n, order, (a, b) => (value[a] === value[b] ? a - b : value[a]! > value[b]! ? -1 : 1));
    this.ensure(n);
    // Non-negative float32 values (what search scores are): their bit patterns order as integers; 3 passes, not 4.
    let f32 = true;
    for (let i = 0; i < n && f32; i++) {
      const v = value[i]!;
      if (!(v >= 0) || Math.fround(v) !== v) f32 = false;
    }
    if (f32) {
      const fv = (this.f32view ??= new Float32Array(1)),
        fb = (this.f32bits ??= new Uint32Array(fv.buffer));
      const inv = this.lo;
      for (let i = 0; i < n; i++) {
        fv[0] = value[i]! + 0;
        inv[i] = ~fb[0]! >>> 0;
      }
      for (let i = 0; i < n; i++) order[i] = i;
      this.pass11(inv, 0, n, order);
      this.pass11(inv, 11, n, order);
      this.pass11(inv, 22, n, order);
      return;
    }
    const hi = this.hi,
      lo = this.lo,
      f = this.f64,
      bits = this.f64bits;
    for (let i = 0; i < n; i++) {
      // IEEE order key (ascending with the value), then inverted for a descending sort. -0 is read as +0.
      f[0] = value[i]! + 0;
      const h = bits[1]!,
        l = bits[0]!;
      if (h & 0x80000000) {
        hi[i] = h; // ~(~h) for negatives: ascending key is ~bits, inverted back to bits
        lo[i] = l;
      } else {
        hi[i] = ~(h | 0x80000000) >>> 0;
        lo[i] = ~l >>> 0;
      }
    }
    for (let i = 0; i < n; i++) order[i] = i;
    this.pass(lo, 0, n, order);
    this.pass(lo, 16, n, order);
    this.pass(hi, 0, n, order);
    this.pass(hi, 16, n, order);
  }

  /** One stable counting pass over digit (key >>> shift) & 0xffff of key[order[i]]; skipped when all digits agree. */
  private pass(key: Uint32Array, shift: number, n: number, order: Int32Array): void {
    const count = this.count;
    count.fill(0);
    for (let i = 0; i < n; i++) count[((key[order[i]!]! >>> shift) & 0xffff) + 1]!++;
    for (let d = 1; d <= 65536; d++) if (count[d] === n) return;
    for (let d = 0; d < 65536; d++) count[d + 1]! += count[d]!;
    const tmp = this.tmp;
    for (let i = 0; i < n; i++) {
      const o = order[i]!;
      tmp[count[(key[o]! >>> shift) & 0xffff]!++] = o;
    }
    order.set(tmp.subarray(0, n));
  }
}

function smallOrder(n: number, order: Int32Array, cmp: (a: number, b: number) => number): void {
  const idx = Array.from({ length: n }, (_, i) => i).sort(cmp);
  for (let i = 0; i < n; i++) order[i] = idx[i]!;
}
