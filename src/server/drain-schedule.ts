/**
 * When to close each connection during a drain. Pure; the randomness is injected.
 *
 * Closing everyone at once makes everyone come back at once. Uniform random moments can still
 * clump, so the window is cut into one slot per connection and each closes at a random moment
 * inside its own slot (stratified jitter): spread is guaranteed, order is not predictable.
 * @packageDocumentation
 */

/**
 * Offsets in milliseconds from the start of the drain, one per connection, in the order
 * the connections were given.
 * @param count - number of connections
 * @param windowMs - length of the drain window
 * @param random - a source of uniform numbers in [0, 1)
 */
export function drainOffsets(count: number, windowMs: number, random: () => number = Math.random): number[] {
  if (count <= 0) return [];
  const slot = Math.max(0, windowMs) / count;
  const slots = Array.from({ length: count }, (_, i) => i);
  // Fisher-Yates: which connection gets which slot is random too.
  for (let i = slots.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [slots[i], slots[j]] = [slots[j] as number, slots[i] as number];
  }
  return slots.map((s) => Math.floor(s * slot + random() * slot));
}
