/**
 * GitHub's rate limits: the primary one (requests per hour per token, reported in `x-ratelimit-*` on every
 * answer) and the secondary limit on content creation (documented as no more than 80 content-generating
 * requests per minute and 500 per hour).
 */

export interface RateWindow {
  limit: number;
  used: number;
  /** Epoch seconds when the window starts over. */
  reset: number;
  resource: 'core';
}

export interface SecondaryLimits {
  perMinute: number;
  perHour: number;
}

export class RateLimits {
  private readonly windows = new Map<string, RateWindow>();
  private readonly content = new Map<string, number[]>();

  constructor(
    private readonly nowMs: () => number,
    private readonly secondary: SecondaryLimits | false,
  ) {}

  /** The window of a key, started on first use (GitHub's hour starts with the first request). */
  window(key: string, limit: number): RateWindow {
    const nowS = Math.floor(this.nowMs() / 1000);
    let w = this.windows.get(key);
    if (!w || w.reset <= nowS) {
      w = { limit, used: 0, reset: nowS + 3600, resource: 'core' };
      this.windows.set(key, w);
    }
    return w;
  }

  /** Counts one request; `false` when the window was already spent (that request is not counted). */
  take(key: string, limit: number): boolean {
    const w = this.window(key, limit);
    if (w.used >= w.limit) return false;
    w.used += 1;
    return true;
  }

  /** A content-creating request; `false` when it would exceed the secondary limit (not counted then). */
  createContent(key: string): boolean {
    if (!this.secondary) return true;
    const now = this.nowMs();
    const recent = (this.content.get(key) ?? []).filter((t) => t > now - 3_600_000);
    const lastMinute = recent.filter((t) => t > now - 60_000).length;
    this.content.set(key, recent);
    if (lastMinute >= this.secondary.perMinute || recent.length >= this.secondary.perHour) return false;
    recent.push(now);
    return true;
  }

  static headers(w: RateWindow): Record<string, string> {
    return {
      'x-ratelimit-limit': String(w.limit),
      'x-ratelimit-remaining': String(Math.max(0, w.limit - w.used)),
      'x-ratelimit-reset': String(w.reset),
      'x-ratelimit-used': String(w.used),
      'x-ratelimit-resource': w.resource,
    };
  }
}
