/**
 * A token bucket: `rate` tokens per second, at most `burst` saved up. Pure; time is passed in, so it
 * costs two numbers per connection and no timers.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  /**
   * @param rate - tokens added per second
   * @param burst - capacity (and the starting fill)
   * @param now - the current time, ms
   */
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Take one token at time `now`; false when the bucket is empty. */
  take(now: number): boolean {
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
