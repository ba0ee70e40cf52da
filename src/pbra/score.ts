/**
 * One party's reputation, as Realm Gateway computes it (pbra.py, uReputation and the period handling of its
 * groups and hosts), rewritten here.
 *
 * Within a period, from the counters ok, nok and neutral (total = ok + nok + neutral, which starts at 5
 * neutral events so that a new party moves gently):
 *     score = clamp01( initial + 0.5 * ok / total - 0.5 * total^0.15 * nok / total )
 * More ok events never lower it and more nok events never raise it (ok/total grows with ok; nok * total^-0.85
 * grows with nok because nok <= total). trusted / untrusted are counted for the view only: Realm Gateway
 * never let them move a score.
 * A party's reputation weighs the current period 0.75 and the previous one 0.25. At a period change the
 * current period becomes the previous one, and the new period starts from that reputation aged one third of
 * the way toward the middle (0.45), with fresh counters.
 */
import { MIDDLE, WEIGHT_CURRENT, WEIGHT_PREVIOUS } from './model.js';

export const SEED_NEUTRAL = 5;
const NOK_EXPONENT = 0.15;

export interface Counters {
  ok: number;
  nok: number;
  neutral: number;
  trusted: number;
  untrusted: number;
}

export type Event = keyof Counters;

export interface Period extends Counters {
  initial: number;
}

function freshPeriod(initial: number): Period {
  return { initial, ok: 0, nok: 0, neutral: SEED_NEUTRAL, trusted: 0, untrusted: 0 };
}

export function periodScore(p: Period): number {
  const total = p.ok + p.nok + p.neutral;
  if (total === 0) return p.initial;
  const s = p.initial + (0.5 * p.ok) / total - (0.5 * Math.pow(total, NOK_EXPONENT) * p.nok) / total;
  return s <= 0 ? 0 : s >= 1 ? 1 : s;
}

export function ageTowardMiddle(score: number): number {
  return score + (MIDDLE - score) / 3;
}

export class Standing {
  previous: Period;
  current: Period;
  /**
   * The score until the next event that can change it: every proven query reads it two or three times, and
   * periodScore costs a Math.pow (measured: PBRA was a third of an allocation's CPU before).
   */
  private cached = Number.NaN;

  constructor(initial: number) {
    this.previous = freshPeriod(initial);
    this.current = freshPeriod(initial);
  }

  get score(): number {
    if (Number.isNaN(this.cached)) this.cached = WEIGHT_PREVIOUS * periodScore(this.previous) + WEIGHT_CURRENT * periodScore(this.current);
    return this.cached;
  }

  record(event: Event): void {
    this.current[event]++;
    // trusted and untrusted are shown, not scored (periodScore reads ok, nok and neutral)
    if (event !== 'trusted' && event !== 'untrusted') this.cached = Number.NaN;
  }

  /** Moves to the next period. */
  age(): void {
    const start = ageTowardMiddle(this.score);
    this.previous = this.current;
    this.current = freshPeriod(start);
    this.cached = Number.NaN;
  }

  /**
   * Takes in another party's events (groups merging). Both are in the same period; the survivor keeps its own
   * starting points, as Realm Gateway's merge does.
   */
  absorb(other: Standing): void {
    this.cached = Number.NaN;
    for (const key of ['ok', 'nok', 'neutral', 'trusted', 'untrusted'] as const) {
      this.previous[key] += other.previous[key];
      this.current[key] += other.current[key];
    }
  }
}
