import { describe, expect, it } from 'vitest';
import { confusable, nameProblem, scriptsOf, skeletons } from '../../common/names.js';

/** Pairs that must collide: the second impersonates the first. */
const LOOKALIKES: [string, string, string][] = [
  ['bob', 'b\u043eb', 'Cyrillic о in the middle'],
  ['alice', '\u0430lice', 'Cyrillic а first'],
  [
    '\u0441\u043e\u0440\u0430',
    'copa',
    'all-Cyrillic "сора" against all-Latin "copa" (whole-script lookalike)',
  ],
  ['bob', 'b0b', 'digit zero for o'],
  ['paul', 'pau1', 'digit one for l'],
  ['lan', 'Ian', 'capital I for l'],
  ['ian', 'Ian', 'case only'],
  ['bob', 'BOB', 'case only'],
  ['BOB', '\u0412\u041e\u0412', 'Cyrillic capitals В О В'],
  ['PAT', '\u03a1\u0391\u03a4', 'Greek capitals Ρ Α Τ'],
  ['ox', '\u03bf\u03c7', 'Greek ο χ'],
  ['bob', '\uff42\uff4f\uff42', 'fullwidth letters (NFKC)'],
  ['bob', 'bo\u200bb', 'zero-width space'],
  ['bob', 'b ob', 'a space'],
  ['modem', 'modern', 'rn for m'],
  ['will', 'vvill', 'vv for w'],
  ['jose', 'jos\u00e9', 'accent'],
  ['jose', 'jose\u0301', 'combining accent'],
  ['bill', 'bi||', 'bars for l'],
];

/** Pairs that must not collide: different names that merely resemble each other in text. */
const DISTINCT: [string, string][] = [
  ['bob', 'rob'],
  ['alice', 'alicia'],
  ['ian', 'lan'],
  ['anna', 'anne'],
  ['carol', 'carl'],
  ['\u0434\u0438\u043c\u0430', 'dima'], // Cyrillic "дима" and Latin "dima" do not look alike
  ['\u6771\u4eac', '\u4eac\u90fd'], // 東京 / 京都
  ['bob', 'bob2'],
];

/** Names and the scripts found, and whether the name is refused. */
const SCRIPTS: [string, string[], boolean][] = [
  ['bob', ['Latin'], false],
  ['b\u043eb', ['Latin', 'Cyrillic'], true],
  ['\u043f\u0440\u0438\u0432\u0435\u0442', ['Cyrillic'], false],
  ['\u03b5\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac', ['Greek'], false],
  ['a\u03b2c', ['Latin', 'Greek'], true],
  ['\u0430\u03b2', ['Cyrillic', 'Greek'], true],
  ['\u6771\u4eactokyo', ['Han', 'Latin'], false],
  ['\u65e5\u672c\u8a9e\u30c6\u30b9\u30c8', ['Han', 'Katakana'], false],
  ['\uc548\ub155 bob', ['Hangul', 'Latin'], false],
  ['\u05e9\u05dc\u05d5\u05dd bob', ['Hebrew', 'Latin'], true],
  ['bob 42 :-) \u{1f600}', ['Latin'], false],
];

describe('names (common/names.ts): lookalikes and mixed scripts, UTS #39', () => {
  it.each(LOOKALIKES)('"%s" and "%s" look alike (%s)', (a, b) => {
    expect(confusable(a, b)).toBe(true);
    expect(confusable(b, a)).toBe(true);
  });

  it.each(DISTINCT)('"%s" and "%s" are different names', (a, b) => {
    expect(confusable(a, b)).toBe(false);
  });

  it.each(SCRIPTS)('"%s": scripts %j, refused %s', (name, scripts, refused) => {
    expect(scriptsOf(name)).toEqual(scripts);
    const problem = nameProblem(name);
    expect(problem !== undefined).toBe(refused);
    if (refused) expect(problem).toContain('mixes scripts');
  });

  it('a skeleton is stable: the skeleton of a skeleton is itself', () => {
    for (const [a, b] of LOOKALIKES)
      for (const s of [...skeletons(a), ...skeletons(b)]) expect(skeletons(s)).toContain(s);
  });
});
