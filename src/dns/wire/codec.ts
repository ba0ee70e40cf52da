import dnsPacket from 'dns-packet';

/**
 * dns-packet exports per-part codecs (name, answer) that its type definitions leave out. We use them to encode
 * single records into a buffer we lay out ourselves; this file is the one place that knows their shape.
 */
interface PartCodec<T> {
  encode(value: T, buf?: Buffer, offset?: number): Buffer;
  decode(buf: Buffer, offset?: number): T;
  encodingLength(value: T): number;
}
type Encoded = { encode: { bytes: number }; decode: { bytes: number } };

const parts = dnsPacket as unknown as {
  name: PartCodec<string> & Encoded;
  answer: PartCodec<dnsPacket.Answer> & Encoded;
};

export const nameCodec = parts.name;
export const recordCodec = parts.answer;
