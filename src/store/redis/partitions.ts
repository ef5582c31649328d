/**
 * Where a channel lives in Redis Cluster: a fixed number of partitions, each with a hash tag chosen so
 * that the partitions spread evenly over the cluster's 16384 slots (and so over its masters, which
 * `redis-cli --cluster create` gives equal, contiguous slot ranges). Every key of a channel carries its
 * partition's tag, so everything one append touches (meta, stream, dedupe records, its pub/sub topic)
 * hashes to one slot, and one Lua script may touch all of it.
 *
 * The number of partitions and the tags are part of the key layout (`LAYOUT_VERSION` in `layout.ts`):
 * changing them moves every channel, so they never change within a layout version.
 * @packageDocumentation
 */

/** Slots of Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

/**
 * Partitions of the channel space. Enough that any practical number of masters gets an even share (a
 * slot range holds 16 partitions per thousand slots), few enough that a sweep visits each partition's
 * channel set every interval without cost.
 */
export const PARTITIONS = 1024;

/** CRC16-CCITT (XMODEM) lookup table: the checksum Redis Cluster hashes keys with. */
const CRC_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    table[i] = c;
  }
  return table;
})();

/** Continue a CRC16 over the UTF-8 bytes of `text`, from `crc`. */
function crc16(bytes: Uint8Array, crc = 0): number {
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

const utf8 = new TextEncoder();

/**
 * The cluster slot of a key, as Redis computes it: the CRC16 of its hash tag (the text between the first
 * `{` and the next `}`, when not empty), else of the whole key, modulo 16384.
 */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(utf8.encode(key)) % CLUSTER_SLOTS;
}

/**
 * The partition of a channel: FNV-1a (32 bits) of its UTF-8 bytes, modulo {@link PARTITIONS}. Stable
 * across processes and versions of Node (it depends on nothing but the bytes).
 */
export function partitionOf(channel: string): number {
  let hash = 0x811c9dc5;
  for (const byte of utf8.encode(channel)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % PARTITIONS;
}

let tags: readonly string[] | undefined;

/**
 * The hash tag of every partition, computed once per process (a few tens of ms): partition `k`'s tag is
 * `p<k>`, or `p<k>.<n>` with the smallest `n` that puts it in the `k`-th of {@link PARTITIONS} equal
 * ranges of slots. Deterministic, so every process and every version of this layout agrees.
 */
export function partitionTags(): readonly string[] {
  if (tags) return tags;
  const out: string[] = [];
  const width = CLUSTER_SLOTS / PARTITIONS;
  for (let k = 0; k < PARTITIONS; k++) {
    const bare = `p${k}`;
    if (Math.floor(keySlot(`{${bare}}`) / width) === k) {
      out.push(bare);
      continue;
    }
    // The CRC of the common beginning once, then only each suffix's digits.
    const head = crc16(utf8.encode(`${bare}.`));
    for (let n = 1; ; n++) {
      if (Math.floor((crc16(utf8.encode(String(n)), head) % CLUSTER_SLOTS) / width) === k) {
        out.push(`${bare}.${n}`);
        break;
      }
    }
  }
  tags = out;
  return out;
}
