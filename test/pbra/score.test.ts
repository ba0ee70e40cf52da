// Realm Gateway's reputation formula, its period weighting and its ageing toward the middle.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ageTowardMiddle, periodScore, SEED_NEUTRAL, Standing } from '../../src/pbra/score.js';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

describe('Standing', () => {
  it('starts at its initial reputation, with 5 neutral events', () => {
    const s = new Standing(0.8);
    close(s.score, 0.8);
    assert.equal(s.current.neutral, SEED_NEUTRAL);
  });

  it('ok raises by half the ok share; nok lowers by half the nok share times total^0.15', () => {
    const s = new Standing(0.45);
    for (let i = 0; i < 3; i++) s.record('ok');
    close(periodScore(s.current), 0.45 + (0.5 * 3) / 8);
    close(s.score, 0.25 * 0.45 + 0.75 * (0.45 + (0.5 * 3) / 8));
    const t = new Standing(0.45);
    t.record('nok');
    t.record('nok');
    close(periodScore(t.current), 0.45 - (0.5 * Math.pow(7, 0.15) * 2) / 7);
  });

  it('is clamped to 0..1 and trusted/untrusted do not move it', () => {
    const s = new Standing(1);
    for (let i = 0; i < 50; i++) s.record('ok');
    close(periodScore(s.current), 1);
    const t = new Standing(0);
    for (let i = 0; i < 50; i++) t.record('nok');
    close(periodScore(t.current), 0);
    const u = new Standing(0.6);
    u.record('trusted');
    u.record('untrusted');
    close(u.score, 0.6);
    assert.equal(u.current.trusted, 1);
  });

  it('ages a third of the way toward 0.45 at each period change, weighing the old period 0.25', () => {
    close(ageTowardMiddle(1), 1 - 0.55 / 3);
    close(ageTowardMiddle(0), 0.15);
    const s = new Standing(1);
    s.age();
    close(periodScore(s.previous), 1);
    close(s.current.initial, 1 - 0.55 / 3);
    close(s.score, 0.25 * 1 + 0.75 * (1 - 0.55 / 3));
    for (let i = 0; i < 200; i++) s.age();
    close(s.score, 0.45);
  });

  it('absorbs another party by adding its events, keeping its own starting points', () => {
    const a = new Standing(1);
    const b = new Standing(0.2);
    b.record('nok');
    b.record('ok');
    a.absorb(b);
    assert.deepEqual(a.current, { initial: 1, ok: 1, nok: 1, neutral: 2 * SEED_NEUTRAL, trusted: 0, untrusted: 0 });
  });
});
