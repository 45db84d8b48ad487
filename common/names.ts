/**
 * Lookalike names (Unicode Technical Standard #39, "Unicode Security Mechanisms"): two names
 * collide when their skeletons are equal, and a name whose letters come from two scripts that are
 * not normally written together (Latin with Cyrillic: "bоb" with a Cyrillic "о") is refused
 * outright. Pure functions; the rendezvous registry keys a room's names by skeleton
 * (rendezvous/registry.ts) and refuses mixed-script names (rendezvous/registration.ts).
 *
 * The skeleton here is UTS #39 §4's idea with a reduced table, and case-insensitive:
 *  1. NFKC (UAX #15): compatibility forms fold (fullwidth "ｂｏｂ", ligatures, superscripts);
 *  2. each character with a Latin lookalike is mapped to it (CONFUSABLES below: the Cyrillic and
 *     Greek letters that look like Latin ones, upper and lower case, and the digits and signs that
 *     look like letters: 0/o, 1/l, I/l, |/l, 5/s);
 *  3. case folding (toLowerCase), before or after step 2: see skeletons();
 *  4. combining marks, white space and format controls (zero-width joiners) are removed;
 *  5. the multi-letter lookalikes "rn" → "m" and "vv" → "w".
 * The table is a subset of UTS #39's confusables.txt; docs/security.md says which.
 */

/** Single characters that look like a Latin letter: the character, then the letter it maps to. */
const PAIRS: readonly (readonly [string, string])[] = [
  // Cyrillic capitals
  ['А', 'A'],
  ['В', 'B'],
  ['С', 'C'],
  ['Е', 'E'],
  ['Н', 'H'],
  ['І', 'l'],
  ['Ј', 'J'],
  ['К', 'K'],
  ['М', 'M'],
  ['О', 'O'],
  ['Р', 'P'],
  ['Ѕ', 'S'],
  ['Т', 'T'],
  ['Х', 'X'],
  ['У', 'Y'],
  ['Ԁ', 'D'],
  ['Ԛ', 'Q'],
  ['Ԝ', 'W'],
  ['Ү', 'Y'],
  ['Ӏ', 'l'],
  // Cyrillic small letters
  ['а', 'a'],
  ['с', 'c'],
  ['ԁ', 'd'],
  ['е', 'e'],
  ['һ', 'h'],
  ['і', 'i'],
  ['ј', 'j'],
  ['ӏ', 'l'],
  ['о', 'o'],
  ['р', 'p'],
  ['ԛ', 'q'],
  ['ѕ', 's'],
  ['ԝ', 'w'],
  ['х', 'x'],
  ['у', 'y'],
  ['ү', 'y'],
  ['в', 'b'],
  ['к', 'k'],
  ['м', 'm'],
  ['н', 'h'],
  ['т', 't'],
  ['ь', 'b'],
  ['ѵ', 'v'],
  ['ɡ', 'g'],
  // Greek capitals
  ['Α', 'A'],
  ['Β', 'B'],
  ['Ε', 'E'],
  ['Ζ', 'Z'],
  ['Η', 'H'],
  ['Ι', 'l'],
  ['Κ', 'K'],
  ['Μ', 'M'],
  ['Ν', 'N'],
  ['Ο', 'O'],
  ['Ρ', 'P'],
  ['Τ', 'T'],
  ['Υ', 'Y'],
  ['Χ', 'X'],
  // Greek small letters
  ['α', 'a'],
  ['β', 'b'],
  ['γ', 'y'],
  ['ε', 'e'],
  ['η', 'n'],
  ['ι', 'i'],
  ['κ', 'k'],
  ['ν', 'v'],
  ['ο', 'o'],
  ['ρ', 'p'],
  ['τ', 't'],
  ['υ', 'u'],
  ['χ', 'x'],
  ['ϲ', 'c'],
  ['ϳ', 'j'],
  // Latin letters and signs that look like other Latin letters, and digits
  ['ı', 'i'],
  ['ȷ', 'j'],
  ['ℓ', 'l'],
  ['I', 'l'],
  ['|', 'l'],
  ['1', 'l'],
  ['0', 'o'],
  ['5', 's'],
];

const CONFUSABLES: ReadonlyMap<string, string> = new Map(PAIRS);

/** Format controls (zero-width joiners, bidi marks) and white space draw nothing that tells names apart. */
const INVISIBLE = /[\p{Cf}\p{White_Space}]/gu;

const mapChars = (s: string): string => {
  let out = '';
  for (const ch of s) out += CONFUSABLES.get(ch) ?? ch;
  return out;
};

/** Steps 4-5, and marks: NFKD then drop combining marks ("é" passes for "e"). */
const finish = (s: string): string =>
  s.normalize('NFKD').replace(/\p{M}/gu, '').replace(INVISIBLE, '').replace(/rn/g, 'm').replace(/vv/g, 'w');

/**
 * The skeletons of `name`: two names look alike when they share one. Two, because case folding
 * and the lookalike map do not commute: "I" (capital i) looks like "l" and folds to "i", and "i"
 * and "l" do not look alike. Mapping first catches "Ian" / "lan"; folding first, "Ian" / "ian".
 */
export function skeletons(name: string): string[] {
  const nfkc = name.normalize('NFKC');
  const a = finish(mapChars(nfkc).toLowerCase());
  const b = finish(mapChars(nfkc.toLowerCase()));
  return a === b ? [a] : [a, b];
}

/** Do `a` and `b` look alike (share a skeleton)? */
export function confusable(a: string, b: string): boolean {
  const sa = skeletons(a);
  return skeletons(b).some((s) => sa.includes(s));
}

/**
 * Scripts a name's letters are checked against. Letters of any other script count as one more,
 * 'Other', script. Common and Inherited characters (digits, punctuation, spaces, emoji,
 * combining marks) belong to no script and mix with anything.
 */
const SCRIPTS: readonly (readonly [string, RegExp])[] = [
  ['Latin', /\p{Script=Latin}/u],
  ['Cyrillic', /\p{Script=Cyrillic}/u],
  ['Greek', /\p{Script=Greek}/u],
  ['Armenian', /\p{Script=Armenian}/u],
  ['Hebrew', /\p{Script=Hebrew}/u],
  ['Arabic', /\p{Script=Arabic}/u],
  ['Devanagari', /\p{Script=Devanagari}/u],
  ['Thai', /\p{Script=Thai}/u],
  ['Georgian', /\p{Script=Georgian}/u],
  ['Han', /\p{Script=Han}/u],
  ['Hiragana', /\p{Script=Hiragana}/u],
  ['Katakana', /\p{Script=Katakana}/u],
  ['Hangul', /\p{Script=Hangul}/u],
  ['Bopomofo', /\p{Script=Bopomofo}/u],
];

/** The scripts of the letters (and other script-specific characters) in `name`, in order of appearance. */
export function scriptsOf(name: string): string[] {
  const found: string[] = [];
  for (const ch of name.normalize('NFKC')) {
    if (/[\p{Script=Common}\p{Script=Inherited}]/u.test(ch)) continue;
    const script = SCRIPTS.find(([, re]) => re.test(ch))?.[0] ?? 'Other';
    if (!found.includes(script)) found.push(script);
  }
  return found;
}

/**
 * Script sets UTS #39 §5.2 "Highly Restrictive" allows in one identifier: the ways Japanese,
 * Chinese and Korean are written, each with Latin. Any other mix is refused.
 */
const ALLOWED_MIXES: readonly (readonly string[])[] = [
  ['Latin', 'Han', 'Hiragana', 'Katakana'],
  ['Latin', 'Han', 'Bopomofo'],
  ['Latin', 'Han', 'Hangul'],
];

/**
 * Why `name` may not be used, or undefined when it may: a name whose letters come from more than
 * one script, outside the CJK combinations above (UTS #39 §5.2, "Highly Restrictive").
 */
export function nameProblem(name: string): string | undefined {
  const scripts = scriptsOf(name);
  if (scripts.length <= 1) return undefined;
  if (ALLOWED_MIXES.some((mix) => scripts.every((s) => mix.includes(s)))) return undefined;
  return `name "${name}" mixes scripts (${scripts.join(' + ')}); use one script`;
}
