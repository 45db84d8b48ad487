/**
 * Tab completion of paths for `/send NAME PATH` and `/accept [ID] DIR`, in a temporary
 * directory: files and directories like a shell (a "/" after a directory, Tab again goes inside
 * it), escaped spaces that /send reads back, dot files only when asked for, and a bounded read of
 * a large directory.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIST_MAX, completePath, nodeFileSystem } from '../../peer/tui/paths.js';
import type { FileSystemView } from '../../peer/tui/paths.js';
import { setup, type } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'punchline-tui-paths-'));
  writeFileSync(path.join(dir, 'alpha.txt'), 'a');
  mkdirSync(path.join(dir, 'alpine'));
  writeFileSync(path.join(dir, 'alpine', 'inner.txt'), 'i');
  writeFileSync(path.join(dir, 'beta file.txt'), 'b');
  writeFileSync(path.join(dir, '.hidden'), 'h');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function tab(vm: ReturnType<typeof setup>['vm'], line: string): Promise<string> {
  vm.setInput(line);
  await vm.handleKey('tab');
  return vm.input.text;
}

describe('Tab completes paths', () => {
  it('/send NAME al<Tab> cycles files and directories; a directory ends in "/" and Tab goes inside', async () => {
    const { vm } = setup({}, { cwd: dir, home: dir });
    expect(await tab(vm, '/send bob al')).toBe('/send bob alpha.txt ');
    await vm.handleKey('tab');
    expect(vm.input.text).toBe('/send bob alpine/');
    expect(await tab(vm, '/send bob alpi')).toBe('/send bob alpine/');
    await vm.handleKey('tab');
    expect(vm.input.text).toBe('/send bob alpine/inner.txt ');
    // Under ~ ("~" alone becomes "~/"), and from an empty word (the working directory, no dot files).
    expect(await tab(vm, '/send bob ~')).toBe('/send bob ~/');
    expect(await tab(vm, '/send bob ~/alpine/i')).toBe('/send bob ~/alpine/inner.txt ');
    expect(await tab(vm, '/send bob ')).toBe('/send bob alpha.txt ');
    expect(await tab(vm, '/send bob .h')).toBe('/send bob .hidden ');
    // The peer's name is still a nick.
    expect(await tab(vm, '/send bo')).toBe('/send bob ');
  });

  it('a name with a space is escaped, and /send reads it back', async () => {
    const { fake, vm } = setup({}, { cwd: dir });
    expect(await tab(vm, '/send bob be')).toBe('/send bob beta\\ file.txt ');
    await vm.handleKey('enter');
    expect(fake.calls).toEqual([`sendFile bob ${path.join(dir, 'beta file.txt')}`]);
  });

  it('/accept completes directories only', async () => {
    const { vm } = setup({}, { cwd: dir });
    expect(await tab(vm, '/accept al')).toBe('/accept alpine/');
    await vm.handleKey('tab');
    expect(vm.input.text).toBe('/accept alpine/');
    expect(await tab(vm, '/accept F0000001 al')).toBe('/accept F0000001 alpine/');
  });

  it(`reads at most ${LIST_MAX} entries of a directory per Tab`, () => {
    const big = path.join(dir, 'big');
    mkdirSync(big);
    for (let i = 0; i < LIST_MAX + 50; i++) writeFileSync(path.join(big, `f${i}`), '');
    const asked: number[] = [];
    const fs: FileSystemView = {
      list: (d, max) => {
        asked.push(max);
        return nodeFileSystem.list(d, max);
      },
      kind: nodeFileSystem.kind,
    };
    const got = completePath({ fs, cwd: dir, home: dir }, 'big/f');
    expect(asked).toEqual([LIST_MAX]);
    expect(got).toHaveLength(LIST_MAX);
    expect(nodeFileSystem.list(big, 10)).toHaveLength(10);
  });

  it('a typed path with an escaped space is one path; a quoted one too', async () => {
    const { fake, vm } = setup({}, { cwd: dir });
    await type(vm, '/send bob "beta file.txt"');
    expect(fake.calls).toEqual([`sendFile bob ${path.join(dir, 'beta file.txt')}`]);
  });
});
