// Types of the snappyjs package (it ships none): the snappy block format, pure JavaScript.
declare module 'snappyjs' {
  /** Compresses to the snappy block format (not the framed format); same type out as in. */
  export function compress(input: Uint8Array): Uint8Array;
  export function uncompress(input: Uint8Array, maxLength?: number): Uint8Array;
  const SnappyJS: { compress: typeof compress; uncompress: typeof uncompress };
  export default SnappyJS;
}
