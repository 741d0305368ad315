/**
 * LXC's tools print their own errors (`lxc-start: ID: ../src/lxc/… Failed to …`, 5 to 9 lines)
 * on the stderr they share with the container. The driver reports one clear line of its own
 * (from LXC's log, kept in the state directory as lxc.log), so these lines are dropped from the
 * stream the caller sees; everything else passes through unchanged, byte for byte.
 */
import { Transform, type TransformCallback, type Writable } from 'node:stream';

export class LxcNoiseFilter extends Transform {
  private readonly prefixes: string[];
  private pending = '';
  private mode: 'start' | 'pass' | 'drop' = 'start';

  constructor(id: string) {
    super();
    this.prefixes = ['lxc-start', 'lxc-execute'].map((t) => `${t}: ${id}: `);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const s = chunk.toString('latin1');
    let out = '';
    let i = 0;
    while (i < s.length) {
      if (this.mode === 'start') {
        const nl = s.indexOf('\n', i);
        const need = Math.max(...this.prefixes.map((p) => p.length)) - this.pending.length;
        const take = nl < 0 ? s.slice(i, i + need) : s.slice(i, Math.min(nl + 1, i + need));
        this.pending += take;
        i += take.length;
        const matches = this.prefixes.filter((p) => p.startsWith(this.pending) || this.pending.startsWith(p));
        if (matches.some((p) => this.pending.startsWith(p))) {
          this.mode = 'drop';
          this.pending = '';
        } else if (!matches.length || this.pending.endsWith('\n')) {
          out += this.pending;
          this.mode = this.pending.endsWith('\n') ? 'start' : 'pass';
          this.pending = '';
        }
        continue;
      }
      const nl = s.indexOf('\n', i);
      const end = nl < 0 ? s.length : nl + 1;
      if (this.mode === 'pass') out += s.slice(i, end);
      i = end;
      if (nl >= 0) this.mode = 'start';
    }
    done(null, out ? Buffer.from(out, 'latin1') : undefined);
  }

  override _flush(done: TransformCallback): void {
    done(null, this.pending ? Buffer.from(this.pending, 'latin1') : undefined);
  }
}

/** `target` behind the filter; `end`: end the target when the container's stderr ends. */
export function quietLxc(id: string, target: Writable, end: boolean): Writable {
  const f = new LxcNoiseFilter(id);
  f.pipe(target, { end });
  return f;
}
