/** The `siphash` package (SipHash-2-4, pure JS) ships no types; only what realmgw calls is declared. */
declare module 'siphash' {
  /** key: the 16-byte key as four little-endian u32 words; returns the 64-bit result as high/low u32. */
  const SipHash: { hash(key: ArrayLike<number>, message: Uint8Array): { h: number; l: number } };
  export default SipHash;
}
