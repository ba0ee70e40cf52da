import assert from 'node:assert/strict';
import { join } from 'node:path';
import { InputError, type Problem } from '../../src/errors.js';
import { REPO_ROOT } from './repo.js';

/** Absolute path of a folder under test/fixtures. */
export const fixture = (name: string): string => join(REPO_ROOT, 'test', 'fixtures', name);

/** Runs a loader that must refuse its input and returns the problems it reported. */
export function problemsOf(fn: () => unknown): Problem[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof InputError, String(e));
    return e.problems;
  }
  assert.fail('expected an InputError');
}
