// Types of the snappyjs package (it ships none): the snappy block format, pure JavaScript.
declare module 'snappyjs' {
  /** Compresses to the snappy block format (not the framed format); same type out as in. */
  export function compress(input: Uint8Array): Uint8Array;
  export function uncompress(input: Uint8Array, maxLength?: number): Uint8Array;
  const SnappyJS: { compress: typeof compress; uncompress: typeof uncompress };
  export default SnappyJS;
}

// The compressor itself, to compress into a buffer of our own (no output allocation per call).
declare module 'snappyjs/snappy_compressor.js' {
  export class SnappyCompressor {
    constructor(uncompressed: Uint8Array);
    /** 32 + n + n/6: the most a block of `n` bytes can take. */
    maxCompressedLength(): number;
    /** Writes the block at the start of `out`; returns its length. */
    compressToBuffer(out: Uint8Array): number;
  }
}
