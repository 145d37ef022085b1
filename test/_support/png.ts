// Writing PNG files for the image tests: chunks with their CRC, and the file around them.
import { crc32 } from 'node:zlib';

export interface PngHeader {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlace?: boolean;
}

/** One chunk: length, type, data, CRC over type and data. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(
    [...type].map((c) => c.charCodeAt(0)),
    4,
  );
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)) >>> 0);
  return out;
}

/** Signature, IHDR from `header`, the given chunks (PLTE, IDAT...) in order, IEND. */
export function pngFile(header: PngHeader, chunks: Uint8Array[]): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, header.width);
  dv.setUint32(4, header.height);
  ihdr.set([header.depth, header.colorType, 0, 0, header.interlace ? 1 : 0], 8);
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    ...chunks,
    pngChunk('IEND', new Uint8Array(0)),
  ];
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}
