// Printing float32 values as C literals that read back as exactly the same float: the shortest decimal (at most 9
// significant digits) whose exact value lies strictly inside the float's rounding interval, checked with BigInt
// arithmetic, so a compiler converting straight to float and one going through double both land on the value.
import { InternalError, PrunedetError } from '../../errors';
import { floatBits } from '../../postprocess/float32';

/** Is the decimal digits·10^exp strictly inside the round-to-nearest interval of the positive finite float x? */
function roundsTo(digits: bigint, exp: number, x: number): boolean {
  const bits = floatBits(x);
  const biased = (bits >>> 23) & 0xff;
  const frac = bits & 0x7fffff;
  const m = BigInt(biased === 0 ? frac : frac | 0x800000);
  const e = biased === 0 ? -149 : biased - 150; // x = m·2^e
  // In units of 2^(e-2): x = 4m, the interval is (4m - 2, 4m + 2), or (4m - 1, 4m + 2) just above a power of two.
  const lo = m === 0x800000n && biased > 1 ? 4n * m - 1n : 4n * m - 2n;
  const hi = 4n * m + 2n;
  let num = digits;
  let den = 1n;
  if (exp >= 0) num *= 10n ** BigInt(exp);
  else den *= 10n ** BigInt(-exp);
  const sh = 2 - e;
  if (sh >= 0) num *= 1n << BigInt(sh);
  else den *= 1n << BigInt(-sh);
  return lo * den < num && num < hi * den;
}

/** Digits and decimal exponent of a plain JS number string ("0.05", "1e-8", "300", "1.5e+30"). */
function decimal(text: string): { digits: bigint; exp: number } {
  const [mant, e = '0'] = text.split('e');
  const [int, fraction = ''] = mant!.split('.');
  return { digits: BigInt(int! + fraction), exp: Number(e) - fraction.length };
}

/** Shortest decimal text (JS notation) of a positive finite float that reads back exactly. */
function shortest(x: number): string {
  for (let p = 1; p <= 9; p++) {
    const text = String(Number(x.toPrecision(p)));
    const { digits, exp } = decimal(text);
    if (roundsTo(digits, exp, x)) return text;
  }
  throw new InternalError(`no 9-digit decimal reads back as float ${x}`);
}

/**
 * A C `float` literal for a float32 value (`0.05f`, `300.0f`, `1e-08f`, `-0.0f`). `what` names the value in the error
 * raised for NaN or an infinity (tables must hold finite numbers).
 */
export function cFloat(x: number, what = 'value'): string {
  if (!Number.isFinite(x)) {
    throw new PrunedetError(
      'E_POSTPROCESS',
      `${what} is ${x}; emitted C tables hold finite floats only`,
      'check the anchors and the post-processing parameters for NaN or infinite values',
    );
  }
  if (Math.fround(x) !== x) throw new InternalError(`cFloat(${x}): not a float32 value`);
  if (x === 0) return Object.is(x, -0) ? '-0.0f' : '0.0f';
  let text = shortest(Math.abs(x));
  if (!/[.e]/.test(text)) text += '.0';
  return `${x < 0 ? '-' : ''}${text}f`;
}

/** Like cFloat, but ±Inf become `INFINITY` / `-INFINITY` (from <math.h>), for bounds that may be unbounded. */
export function cFloatOrInf(x: number, what = 'value'): string {
  if (x === Infinity) return 'INFINITY';
  if (x === -Infinity) return '-INFINITY';
  return cFloat(x, what);
}
