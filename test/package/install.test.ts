// The package as a user gets it: `npm pack`, then `npm i <tarball>` into a fresh CommonJS project
// and a fresh ESM project, each type-checked (strict, NodeNext) with this repository's TypeScript
// and running a busybox container with no other step. And the install's one-line failure when the
// compiler is missing.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeRootfs, TEST_ROOT, uniqueId } from '../helpers.js';

const REPO = new URL('../../../', import.meta.url).pathname;
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');
const NPM_FLAGS = ['--no-audit', '--no-fund', '--loglevel=error'];

function sh(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  return spawnSync(file, args, { encoding: 'utf8', timeout: 60_000, ...opts });
}
function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Uses the API as a user would; `run` is typed through the package's own declarations. */
const program = (mod: 'cjs' | 'esm') => `
import { createDriver, ExecDriverError, type Command, type DriverName, type ExitStatus } from 'execdriver';
import { PassThrough } from 'node:stream';

const [rootfs, root, id] = process.argv.slice(2) as [string, string, string];
const name: DriverName = 'native';
// @ts-expect-error: only registered drivers are names
const notADriver = () => createDriver('docker');
void notADriver;

async function main(): Promise<void> {
  const driver = createDriver(name, { root });
  let out = '';
  const stdout = new PassThrough();
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  const command: Command = {
    id,
    rootfs,
    entrypoint: 'sh',
    arguments: ['-c', 'echo "hello from $(hostname) (${mod})"; exit 3'],
    hostname: 'pkg-${mod}',
    network: { mode: 'none' },
  };
  try {
    const status: ExitStatus = await driver.run(command, { stdout });
    console.log(JSON.stringify({ out, exitCode: status.exitCode }));
  } catch (e) {
    if (!(e instanceof ExecDriverError)) throw e;
    console.log(JSON.stringify({ code: e.code, message: e.message }));
  }
}
void main();
`;

interface Project {
  dir: string;
  script: string;
}

describe('the packed package, installed', () => {
  let work: string;
  let tarball: string;
  let rootfs: { dir: string; cleanup: () => void };
  const projects: Partial<Record<'cjs' | 'esm', Project>> = {};

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'execdriver-pkg-'));
    rootfs = makeRootfs();
    // the tree as it is built (dist/src is what the tests run): no prepack rebuild
    const out = ok(sh('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: REPO }), 'npm pack');
    tarball = join(work, out.trim().split('\n').pop()!);
    assert.ok(existsSync(tarball), `npm pack made ${tarball}`);
  });
  after(() => {
    rootfs?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships the built library, the C sources, the install script and the license, and no tests', () => {
    const files = ok(sh('tar', ['tzf', tarball]), 'tar').split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
    for (const f of ['package.json', 'LICENSE', 'README.md', 'bin/execdriver', 'dist/src/index.js', 'dist/src/index.d.ts', 'native/Makefile',
      'native/execdriver-init.c', 'native/PROTOCOL.md', 'scripts/build-init.mjs']) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    for (const f of readdirSync(join(REPO, 'native')).filter((n) => /\.[ch]$/.test(n) && !n.startsWith('test'))) assert.ok(files.includes(`native/${f}`), `native/${f}`);
    const stray = files.filter((f) => /^(test|bench|src)\/|^dist\/(test|bench)\/|\.map$|^native\/execdriver-init$|^native\/execdriver-oci-front$|^scripts\/(setup|demo)/.test(f));
    assert.deepEqual(stray, []);
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { license: string };
    assert.equal(pkg.license, 'Apache-2.0');
    assert.match(readFileSync(join(REPO, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0, January 2004[\s\S]*Copyright 2026 the execdriver authors/);
  });

  for (const mod of ['cjs', 'esm'] as const) {
    it(`installs into a fresh ${mod === 'cjs' ? 'CommonJS' : 'ESM'} project, type-checks (strict, NodeNext) and runs a container`, () => {
      const dir = join(work, mod);
      mkdirSync(dir);
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({ name: `execdriver-${mod}-user`, version: '1.0.0', private: true, ...(mod === 'esm' ? { type: 'module' } : {}) }),
      );
      const t0 = Date.now();
      ok(sh('npm', ['i', ...NPM_FLAGS, tarball], { cwd: dir }), 'npm i');
      const installMs = Date.now() - t0;
      const pkgDir = join(dir, 'node_modules/execdriver');
      assert.ok(existsSync(join(pkgDir, 'native/execdriver-init')), 'the install built the init');
      assert.ok(existsSync(join(pkgDir, 'native/execdriver-oci-front')), "the install built execdriver-oci's native front");
      assert.match(ok(sh(join(dir, 'node_modules/.bin/execdriver-oci'), ['--version'], { cwd: dir }), 'execdriver-oci --version'), /^execdriver-oci version \d+\.\d+\.\d+/);
      assert.match(ok(sh(join(dir, 'node_modules/.bin/execdriver'), ['--help'], { cwd: dir }), 'execdriver --help'), /^execdriver \d+\.\d+\.\d+/);

      writeFileSync(join(dir, 'main.ts'), program(mod));
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            target: 'ES2022',
            types: ['node'],
            typeRoots: [join(REPO, 'node_modules/@types')],
            outDir: 'out',
          },
          files: ['main.ts'],
        }),
      );
      ok(sh(process.execPath, [TSC, '-p', dir]), 'tsc');
      const js = readFileSync(join(dir, 'out/main.js'), 'utf8');
      // CommonJS output loads the package with require() (Node >= 20.19 loads the ES module)
      assert.match(js, mod === 'cjs' ? /require\("execdriver"\)/ : /from 'execdriver'/);

      const id = uniqueId(`pkg${mod}`);
      const t1 = Date.now();
      const r = sh(process.execPath, [join(dir, 'out/main.js'), rootfs.dir, TEST_ROOT, id], { cwd: dir });
      const out = ok(r, 'the container');
      assert.equal(r.stderr, '', 'nothing on stderr (no require(esm) warning)');
      assert.deepEqual(JSON.parse(out), { out: `hello from pkg-${mod} (${mod})\n`, exitCode: 3 });
      assert.equal(existsSync(join(TEST_ROOT, 'native', id)), false, 'nothing left of the container');
      console.log(`${mod}: npm i ${installMs} ms (builds the init), run ${Date.now() - t1} ms`);
      projects[mod] = { dir, script: join(dir, 'out/main.js') };
    });
  }

  it('a missing init names the command that builds it in the installed package', (t) => {
    const p = projects.cjs;
    if (!p) return t.skip('the CommonJS project did not install');
    const bin = join(p.dir, 'node_modules/execdriver/native/execdriver-init');
    renameSync(bin, `${bin}.away`);
    try {
      const id = uniqueId('pkgnoinit');
      const r = sh(process.execPath, [p.script, rootfs.dir, TEST_ROOT, id], { cwd: p.dir });
      const res = JSON.parse(ok(r, 'the script')) as { code: string; message: string };
      assert.equal(res.code, 'ERR_SYSTEM');
      assert.match(res.message, /the init helper \S+\/node_modules\/execdriver\/native\/execdriver-init is not built: run `npm rebuild execdriver`/);
      assert.ok(!res.message.includes('npm run build'), res.message);
      assert.equal(existsSync(join(TEST_ROOT, 'native', id)), false, 'nothing created');
    } finally {
      renameSync(`${bin}.away`, bin);
    }
  });

  describe('when the init cannot be built', () => {
    /** A PATH of its own: node, npm, sh, and the tools given (from the host's). */
    const pathWith = (tools: string[], extra: Record<string, string> = {}): string => {
      const dir = mkdtempSync(join(work, 'bin-'));
      for (const t of ['node', 'npm', 'sh', ...tools]) {
        const real = sh('sh', ['-c', `readlink -f "$(command -v ${t})"`]).stdout.trim();
        assert.ok(real, `${t} on this host`);
        symlinkSync(real, join(dir, t));
      }
      for (const [name, body] of Object.entries(extra)) writeFileSync(join(dir, name), body, { mode: 0o755 });
      return dir;
    };
    const LINE = /^execdriver: cannot build the init helper: (.+) \(apt-get install gcc make libc6-dev libseccomp-dev\)$/;
    const buildScript = (env: NodeJS.ProcessEnv) => {
      const p = projects.esm ?? projects.cjs;
      assert.ok(p, 'an installed project');
      return sh(process.execPath, [join(p.dir, 'node_modules/execdriver/scripts/build-init.mjs')], { env });
    };

    it('without gcc, `npm i` fails with one line naming it, and installs nothing', () => {
      const dir = join(work, 'nogcc');
      mkdirSync(dir);
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'nogcc', version: '1.0.0', private: true }));
      const r = sh('npm', ['i', ...NPM_FLAGS, tarball], { cwd: dir, env: { ...process.env, PATH: pathWith(['make']) } });
      assert.notEqual(r.status, 0, 'the install fails');
      const ours = r.stderr.split('\n').filter((l) => l.includes('execdriver: '));
      assert.equal(ours.length, 1, r.stderr);
      assert.match(ours[0]!.replace(/^npm error /, ''), LINE);
      assert.match(ours[0]!, /: gcc not found \(/);
      assert.equal(existsSync(join(dir, 'node_modules/execdriver')), false, 'rolled back');
    });

    it('the install script alone: exactly one line on stderr, exit 1, for each missing piece', () => {
      const cases: [string, NodeJS.ProcessEnv, RegExp][] = [
        ['gcc', { PATH: pathWith(['make']) }, /^gcc not found$/],
        ['make', { PATH: pathWith(['gcc']) }, /^make not found$/],
        [
          'libseccomp.a',
          {
            // a gcc that finds no static libseccomp
            PATH: pathWith(['make'], {
              gcc: `#!/bin/sh\n[ "$1" = -print-file-name=libseccomp.a ] && { echo libseccomp.a; exit 0; }\nexec ${sh('sh', ['-c', 'readlink -f "$(command -v gcc)"']).stdout.trim()} "$@"\n`,
            }),
          },
          /^the static libseccomp \(libseccomp\.a, Debian libseccomp-dev\) not found$/,
        ],
      ];
      for (const [what, env, why] of cases) {
        const r = buildScript(env);
        assert.equal(r.status, 1, `${what}: exit 1`);
        assert.equal(r.stdout, '', what);
        const lines = r.stderr.split('\n').filter(Boolean);
        assert.equal(lines.length, 1, `${what}: one line: ${r.stderr}`);
        const m = LINE.exec(lines[0]!);
        assert.ok(m, lines[0]);
        assert.match(m[1]!, why);
      }
    });
  });
});
