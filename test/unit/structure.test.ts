import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The shape rules of docs/contributing.md, checked on every source file the repository tracks:
 * small files, short functions, and imports that only run downhill with no folder-level circle.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAX_FILE_LINES = 500;
const MAX_FUNCTION_LINES = 80;

/**
 * What each folder may import besides itself, low layers first. A folder missing here is a new
 * folder: the test names it so its place in the layering is decided on purpose.
 */
const COMMON_BASE = ['common'];
const ALLOWED: Record<string, readonly string[]> = {
  common: [],
  'common/wire': COMMON_BASE,
  'common/crypto': [...COMMON_BASE, 'common/wire'],
  'common/identity': [...COMMON_BASE, 'common/wire', 'common/crypto'],
  'common/path': [...COMMON_BASE, 'common/wire'],
  'common/net': [...COMMON_BASE, 'common/wire'],
  'common/net/sim': [...COMMON_BASE, 'common/wire', 'common/net'],
  'common/session': [...COMMON_BASE, 'common/wire', 'common/crypto', 'common/path'],
  'common/cli': COMMON_BASE,
  'common/lab': [...COMMON_BASE, 'common/wire', 'common/net', 'common/cli'],
  'rendezvous/cluster': [...COMMON_BASE, 'common/wire', 'common/net'],
  rendezvous: [
    ...COMMON_BASE,
    'common/wire',
    'common/crypto',
    'common/identity',
    'common/path',
    'common/net',
    'common/cli',
    'rendezvous/cluster',
  ],
  peer: [
    ...COMMON_BASE,
    'common/wire',
    'common/crypto',
    'common/identity',
    'common/path',
    'common/net',
    'common/session',
    'common/cli',
  ],
  'peer/chat': [...COMMON_BASE, 'common/wire', 'common/identity', 'common/path', 'peer'],
  'peer/tui': [...COMMON_BASE, 'common/wire', 'common/identity', 'peer/chat'],
  'peer/cli': [
    ...COMMON_BASE,
    'common/wire',
    'common/identity',
    'common/net',
    'common/cli',
    'peer',
    'peer/chat',
    'peer/tui',
  ],
  'peer/nat-check': [
    ...COMMON_BASE,
    'common/wire',
    'common/path',
    'common/net',
    'common/cli',
    'peer',
    'peer/cli',
  ],
  'peer/demo': [
    ...COMMON_BASE,
    'common/wire',
    'common/identity',
    'common/path',
    'common/net',
    'common/net/sim',
    'common/cli',
    'common/lab',
    'rendezvous',
    'peer',
  ],
  'peer/bin': [
    ...COMMON_BASE,
    'common/cli',
    'common/identity',
    'rendezvous',
    'peer',
    'peer/cli',
    'peer/demo',
    'peer/nat-check',
  ],
};

interface SourceFacts {
  file: string;
  lines: number;
  /** Functions whose body spans more than MAX_FUNCTION_LINES lines: "name (N lines, line L)". */
  longFunctions: string[];
  /** Relative imports (type-only ones too), as repository paths. */
  imports: string[];
  /** Methods named for teardown other than close(): "stop (line L)". */
  otherTeardown: string[];
  /** Comments that point outside the repository or at an issue tracker. */
  outsideCitations: string[];
}

const OTHER_TEARDOWN = new Set(['stop', 'dispose', 'destroy', 'shutdown', 'teardown']);
/** A design document's section, an issue number or a sibling folder: references a reader of this repository cannot follow. */
const OUTSIDE_CITATION = /design §|\bissues? #?\d+|\.\.\/shared\//i;

function tsFiles(under: RegExp): string[] {
  const out = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '*.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return out
    .split('\n')
    .filter((f) => f && under.test(f) && existsSync(path.join(ROOT, f)))
    .filter((f, i, all) => all.indexOf(f) === i);
}

function factsOf(file: string, text = readFileSync(path.join(ROOT, file), 'utf8')): SourceFacts {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const facts: SourceFacts = {
    file,
    lines: text.split('\n').length,
    longFunctions: [],
    imports: [],
    otherTeardown: [],
    outsideCitations: [],
  };
  const lineOf = (pos: number) => sf.getLineAndCharacterOfPosition(pos).line + 1;
  const visit = (n: ts.Node): void => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const body = n.body as ts.Node;
      const span = lineOf(body.getEnd()) - lineOf(body.getStart()) + 1;
      if (span > MAX_FUNCTION_LINES) {
        const name = n.name && ts.isIdentifier(n.name) ? n.name.text : '(anonymous)';
        facts.longFunctions.push(`${name} (${span} lines, line ${lineOf(body.getStart())})`);
      }
    }
    if (
      (ts.isMethodDeclaration(n) || ts.isMethodSignature(n)) &&
      ts.isIdentifier(n.name) &&
      OTHER_TEARDOWN.has(n.name.text)
    )
      facts.otherTeardown.push(`${n.name.text} (line ${lineOf(n.getStart())})`);
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier) {
      const spec = (n.moduleSpecifier as ts.StringLiteral).text;
      if (spec.startsWith('.'))
        facts.imports.push(
          path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts'),
        );
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  text.split('\n').forEach((line, i) => {
    const comment = /(\/\/|\/\*|^\s*\*)(.*)$/.exec(line);
    if (comment && OUTSIDE_CITATION.test(comment[2]!))
      facts.outsideCitations.push(`line ${i + 1}: ${line.trim()}`);
  });
  return facts;
}

const facts = tsFiles(/^(common|peer|rendezvous)\//).map((f) => factsOf(f));
/** Tests are held to the file size too (not to the function length: a describe block is one function). */
const testLines = tsFiles(/^test\//).map((f) => ({
  file: f,
  lines: readFileSync(path.join(ROOT, f), 'utf8').split('\n').length,
}));
const folderOf = (file: string) => path.posix.dirname(file);

/** Strongly connected components with more than one member (Tarjan), each sorted. */
function circles(graph: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1) found.push(scc.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

function graphOf(
  edge: (f: SourceFacts, target: string) => [string, string] | undefined,
): Map<string, Set<string>> {
  const g = new Map<string, Set<string>>();
  for (const f of facts)
    for (const t of f.imports) {
      const e = edge(f, t);
      if (!e || e[0] === e[1]) continue;
      if (!g.has(e[0])) g.set(e[0], new Set());
      g.get(e[0])!.add(e[1]);
    }
  return g;
}

describe('source shape (docs/contributing.md)', () => {
  it('sees the whole product', () => {
    // Guards the checks below against passing on an empty list.
    expect(facts.length).toBeGreaterThan(100);
    expect(facts.some((f) => f.file === 'peer/bin/punchline.ts')).toBe(true);
  });

  it(`no source file is over ${MAX_FILE_LINES} lines, tests included`, () => {
    expect(testLines.length).toBeGreaterThan(100);
    expect(
      [...facts, ...testLines].filter((f) => f.lines > MAX_FILE_LINES).map((f) => `${f.file}: ${f.lines}`),
    ).toEqual([]);
  });

  it(`no function is over ${MAX_FUNCTION_LINES} lines`, () => {
    expect(facts.flatMap((f) => f.longFunctions.map((l) => `${f.file}: ${l}`))).toEqual([]);
  });

  it('every folder has a place in the layering', () => {
    expect([...new Set(facts.map((f) => folderOf(f.file)))].filter((d) => !(d in ALLOWED))).toEqual([]);
  });

  it('imports run downhill: no folder imports one above it', () => {
    const wrong = facts.flatMap((f) =>
      f.imports
        .filter(
          (t) => folderOf(t) !== folderOf(f.file) && !(ALLOWED[folderOf(f.file)] ?? []).includes(folderOf(t)),
        )
        .map((t) => `${f.file} -> ${t}`),
    );
    expect(wrong).toEqual([]);
  });

  it('no import circle between folders, nor between files', () => {
    expect(circles(graphOf((f, t) => [folderOf(f.file), folderOf(t)]))).toEqual([]);
    expect(circles(graphOf((f, t) => [f.file, t]))).toEqual([]);
  });

  it('the user interfaces see the ChatService interface (peer/chat/types.ts) and nothing else of the peer', () => {
    const uis = facts.filter((f) => f.file.startsWith('peer/tui/') || /^peer\/cli\/json-/.test(f.file));
    expect(uis.length).toBeGreaterThan(5);
    const reach = uis.flatMap((f) =>
      f.imports
        .filter(
          (t) => t.startsWith('peer/') && t !== 'peer/chat/types.ts' && folderOf(t) !== folderOf(f.file),
        )
        .map((t) => `${f.file} -> ${t}`),
    );
    expect(reach).toEqual([]);
  });

  it('teardown is close(), nothing else (docs/contributing.md §7)', () => {
    expect(facts.flatMap((f) => f.otherTeardown.map((t) => `${f.file}: ${t}`))).toEqual([]);
  });

  it('comments cite files in this repository or RFCs, never an outside document or an issue, tests included', () => {
    const tests = testLines.map((t) => factsOf(t.file));
    expect([...facts, ...tests].flatMap((f) => f.outsideCitations.map((c) => `${f.file}: ${c}`))).toEqual([]);
  });

  it('every repository path named in docs, READMEs and code exists', () => {
    const named = /\b(?:common|peer|rendezvous|test|docs)\/[\w./-]+\.(?:ts|md|json|mjs)\b/g;
    const texts = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '*.md', '*.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .split('\n')
      .filter((f) => f && existsSync(path.join(ROOT, f)))
      .filter((f) => f !== 'test/unit/structure.test.ts'); // its own samples name made-up files
    expect(texts.length).toBeGreaterThan(100);
    const missing = texts.flatMap((f) =>
      [...new Set(readFileSync(path.join(ROOT, f), 'utf8').match(named) ?? [])]
        .filter((p) => !existsSync(path.join(ROOT, p)))
        .map((p) => `${f}: ${p}`),
    );
    expect(missing).toEqual([]);
  });

  it("every filter of CI's Node 24 tier (.ci/run) still names at least one test file", () => {
    const ci = readFileSync(path.join(ROOT, '.ci/run'), 'utf8');
    const filters = /NODE24_TESTS="([^"]+)"/.exec(ci)?.[1]?.split(/\s+/) ?? [];
    expect(filters.length).toBeGreaterThan(10);
    const tests = testLines.map((t) => t.file).filter((f) => f.endsWith('.test.ts'));
    expect(filters.filter((f) => !tests.some((t) => t.startsWith(f)))).toEqual([]);
  });

  it('the checks catch what they claim to', () => {
    const g = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
      ['d', new Set(['a'])],
    ]);
    expect(circles(g)).toEqual([['a', 'b', 'c']]);
    expect(circles(new Map([['a', new Set(['b'])]]))).toEqual([]);
    const body = (n: number) => Array.from({ length: n - 2 }, (_, i) => `  x += ${i};`).join('\n');
    const sample = factsOf(
      'peer/sample.ts',
      `import { a } from '../common/wire/bytes.js';\nexport function long() {\n${body(81)}\n}\nconst ok = () => {\n${body(80)}\n};\n`,
    );
    expect(sample.longFunctions).toEqual(['long (81 lines, line 2)']);
    expect(sample.imports).toEqual(['common/wire/bytes.ts']);
    const other = factsOf(
      'peer/other.ts',
      `class A {\n  stop(): void {}\n  close(): void {}\n}\n// see ${'design'} §4\n/* as in ${'issue'} 12 */\n// RFC 8445 §2\n`,
    );
    expect(other.otherTeardown).toEqual(['stop (line 2)']);
    expect(other.outsideCitations).toEqual([
      `line 5: // see ${'design'} §4`,
      `line 6: /* as in ${'issue'} 12 */`,
    ]);
  });
});
