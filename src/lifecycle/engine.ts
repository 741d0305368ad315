/**
 * The driver-neutral lifecycle: one state record (record.ts), one status machine, one exit-status
 * mapping (exit.ts), one start-failure classifier (failure.ts), and here what every driver did on
 * its own: wait, inspect, list, delete, kill, terminate, the ownership checks and the settling
 * of records whose owner is gone. A driver extends LifecycleDriver and implements only what
 * differs: launch (prepare, start, await started, await exit: ApiDriver's `launch`), where its
 * exit status is read from, which processes are the container's, and what to clean up.
 *
 * Who owns a record (and so may act on it) depends on its status:
 * - `creating`/`created`: the Node process that creates it (`owner`);
 * - `running`/`paused`: in the foreground, that Node process; detached, the monitor;
 * - `stopped`: detached, nobody (the record stays until `delete`); in the foreground, the owner
 *   (who removes it).
 * A record whose owner is gone is settled by the next list, run or delete: its processes are
 * killed, its cgroups, network and state directory removed. A `terminating` record is finished by
 * the next terminate or delete --force (and by list once its terminator is gone).
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ApiDriver } from '../api/index.js';
import type { ContainerCgroup } from '../cgroups/index.js';
import type { ContainerSummary, ExitStatus, Info, KillOptions, ManagedDriver, Resources } from '../driver.js';
import {
  containerStats, containerTop, isPaused, pauseContainer, resumeContainer, runningTarget, thawAfterKill, updateContainer,
  type ContainerStats, type OpsTarget, type ProcessInfo, type StatsOptions,
} from '../ops/index.js';
import { ExecDriverError, NotFoundError, NotRunningError, WaitTimeoutError } from '../errors.js';
import { ownerOf, reclaimAddresses, releaseNetwork } from '../network/container.js';
import { isSameProcessAlive, listIds, ownerAlive, signalContainer, STATE_FILE, StateDir, sweepRetired } from '../state/index.js';
import { sleep } from '../time.js';
import { releaseRootfs } from '../rootfs/overlay.js';
import { validateId } from '../command.js';
import { execInContainer, type ExecHandle, type ExecOptions, type ExecProcess } from '../exec/index.js';
import { EXIT_FILE, exitStatusOf, type ExitRecord } from './exit.js';
import { alive, pendingCreation, removeRecord, saveRecord, self, type ContainerRecord, type Status } from './record.js';

export type AnyRecord = ContainerRecord<object>;

/** A record with no owner left: what `settle` does with it. */
export type Verdict = 'keep' | 'reclaim' | 'remove';

/** How long a record-less state directory (an older layout) may exist before it counts as abandoned. */
const ORPHAN_DIR_MS = 10_000;

/** The settling rule, on its own (pure but for the liveness of processes): see the module comment. */
export function verdictOf(rec: AnyRecord, isAlive: (p: { pid: number; startTime: number } | undefined) => boolean = alive): Verdict {
  if (rec.terminating) return isAlive(rec.terminating) ? 'keep' : 'remove';
  const monitor = rec.monitorPid > 0 ? { pid: rec.monitorPid, startTime: rec.monitorStartTime } : undefined;
  switch (rec.status) {
    case 'creating':
    case 'created':
      return isAlive(rec.owner) ? 'keep' : 'remove';
    case 'running':
    case 'paused':
      if (!rec.detached) return isAlive(rec.owner) ? 'keep' : 'remove';
      // detached, its monitor gone: killed, recorded as ended (137 if nobody recorded it), kept until delete
      return isAlive(monitor) ? 'keep' : 'reclaim';
    case 'stopped':
      if (!rec.detached) return isAlive(rec.owner) ? 'keep' : 'remove';
      return 'keep'; // written `stopped` by settle once what it held was given back
  }
}

export abstract class LifecycleDriver extends ApiDriver implements ManagedDriver {
  abstract override readonly root: string;
  /** `native`, `lxc`: the directory under the root */
  protected abstract readonly driverName: string;
  /** a non-root caller's driver: no cgroups, the caller's own user namespace */
  abstract readonly rootless: boolean;

  abstract override name(): string;

  // ---- what a driver implements -------------------------------------------------------------

  /** The container's processes (its cgroup's, or rootless its pid namespace's). */
  protected abstract containerPids(id: string, rec: AnyRecord | undefined): Promise<number[]>;
  /** SIGKILL every process of the container (its cgroup, or what the runtime knows). */
  protected abstract killContainer(id: string, rec: AnyRecord | undefined): Promise<void>;
  /** Remove the container's kernel objects (cgroups; the network is the engine's). Idempotent. */
  protected abstract releaseContainer(id: string, rec: AnyRecord | undefined): Promise<void>;
  /** The file `inspect` names as the container's configuration. */
  protected abstract configFile(state: StateDir): string;
  /** The exit record once the container has ended (default: exit.json as the monitor wrote it). */
  protected exitRecord(id: string, _rec: AnyRecord | undefined): ExitRecord | undefined {
    return this.state(id).readJson<ExitRecord>(EXIT_FILE);
  }
  /** A monitor that does not end after its container was killed: the driver's gentler stop first (lxc-stop). */
  protected async stopMonitor(_id: string, _rec: AnyRecord): Promise<void> {}
  /** The container's cgroup for pause, stats, update and top (src/ops/); undefined: none (rootless). */
  protected opsCgroup(_id: string): ContainerCgroup | undefined {
    return undefined;
  }
  /** Whether a running container is frozen now (its cgroup's freezer). */
  protected isPaused(id: string, _rec: AnyRecord): boolean {
    return isPaused(this.opsCgroup(id));
  }

  // ---- the record ---------------------------------------------------------------------------

  protected state(id: string): StateDir {
    return new StateDir(this.root, this.driverName, id);
  }

  /** The record, or undefined (no directory, or an older directory without one). */
  record<X extends object = Record<string, unknown>>(id: string): ContainerRecord<X> | undefined {
    return this.state(id).readJson<ContainerRecord<X>>(STATE_FILE);
  }

  /** Write a changed record (status checked against the machine). */
  protected save(rec: AnyRecord, status: Status = rec.status): void {
    saveRecord(this.state(rec.id), rec, status);
  }

  /** The record of a running container (for kill, resize, attach, exec, pause …): NotFoundError / NotRunningError otherwise. */
  runningRecord<X extends object = Record<string, unknown>>(id: string): ContainerRecord<X> {
    const state = this.state(id);
    const rec = state.readJson<ContainerRecord<X>>(STATE_FILE);
    if (!rec) {
      if (!state.exists()) throw new NotFoundError(id, state.dir);
      throw new NotRunningError(id, 'is not running (not started yet)');
    }
    if (rec.status === 'creating' || rec.status === 'created' || !rec.pid) throw new NotRunningError(id, 'is not running (not started yet)');
    if (!isSameProcessAlive(rec.pid, rec.startTime)) throw new NotRunningError(id);
    return rec;
  }

  /** The status now: the record's, corrected by what is alive and by the exit record. */
  statusOf(id: string, rec: AnyRecord | undefined, exit: ExitRecord | undefined): Status {
    if (exit) return 'stopped';
    if (!rec) return 'creating';
    if (rec.status === 'running' || rec.status === 'paused') {
      if (!isSameProcessAlive(rec.pid, rec.startTime)) return 'stopped';
      return this.isPaused(id, rec) ? 'paused' : 'running';
    }
    return rec.status;
  }

  // ---- the contract -------------------------------------------------------------------------

  async kill(id: string, signal: NodeJS.Signals | number = 'SIGKILL', options: KillOptions = {}): Promise<void> {
    const rec = this.runningRecord(id);
    signalContainer(id, signal, rec.pid, options.all ? await this.containerPids(id, rec) : undefined);
    await thawAfterKill(this.opsCgroup(id), signal); // a paused container dies at once
  }

  info(id: string): Info & { pid?: number } {
    const rec = this.record(id);
    const running = () => !!rec && rec.pid > 0 && isSameProcessAlive(rec.pid, rec.startTime);
    return { isRunning: running, ...(running() && rec ? { pid: rec.pid } : {}) };
  }

  async getPidsForContainer(id: string): Promise<number[]> {
    const state = this.state(id);
    if (!state.exists()) throw new NotFoundError(id, state.dir);
    return this.containerPids(id, this.record(id));
  }

  /** Wait for a container (detached ones too) to exit; its status from the exit record. */
  async wait(id: string, timeoutMs = 0): Promise<ExitStatus> {
    const state = this.state(id);
    if (!state.exists()) throw new NotFoundError(id, state.dir);
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
    let delay = 5;
    for (;;) {
      const rec = this.record(id);
      const exit = this.exitRecord(id, rec);
      if (exit) {
        if (rec?.detached) await this.reclaim(id, rec);
        return exitStatusOf(exit);
      }
      if (rec && rec.detached && rec.monitorPid > 0 && !isSameProcessAlive(rec.monitorPid, rec.monitorStartTime) && rec.status !== 'creating' && rec.status !== 'created') {
        const again = this.exitRecord(id, rec);
        if (again) return exitStatusOf(again);
        throw new ExecDriverError('ERR_NOT_RUNNING', 'the monitor died and no exit status was recorded', { containerId: id });
      }
      if (!state.exists()) throw new NotFoundError(id, state.dir);
      if (Date.now() > deadline) throw new WaitTimeoutError(id, 'the container to exit', timeoutMs);
      await sleep(delay);
      delay = Math.min(delay * 2, 100);
    }
  }

  /** What is known of one container (the CLI's `info`). */
  inspect(id: string): ContainerSummary {
    const state = this.state(id);
    if (!state.exists()) throw new NotFoundError(id, state.dir);
    const rec = this.record(id);
    const status = this.statusOf(id, rec, undefined);
    const exit = status === 'stopped' || !rec ? this.exitRecord(id, rec) : undefined;
    const running = status === 'running' || status === 'paused';
    const s = exit ? exitStatusOf(exit) : undefined;
    return {
      id,
      driver: this.name(),
      pid: running && rec ? rec.pid : null,
      running,
      status: exit ? 'exited' : status,
      exitCode: s ? s.exitCode : null,
      signal: s?.signal ?? null,
      oomKilled: s?.oomKilled ?? false,
      createdAt: rec?.createdAt ?? null,
      startedAt: rec?.startedAt ?? null,
      finishedAt: exit ? new Date(exit.finishedAt).toISOString() : null,
      command: rec?.command ?? [],
      configPath: this.configFile(state),
      ...(rec?.network ? { network: rec.network } : {}),
    };
  }

  /** Every container with a state directory, after settling those whose owner is gone. */
  async list(): Promise<ContainerSummary[]> {
    await this.settleAll();
    await this.reclaimAddresses();
    const out: ContainerSummary[] = [];
    for (const id of listIds(this.root, this.driverName)) {
      try {
        out.push(this.inspect(id));
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
    }
    return out;
  }

  /** Remove a stopped container (its state, and whatever a crash left); `force` terminates a running one. */
  async delete(id: string, options: { force?: boolean } = {}): Promise<void> {
    const state = this.state(id);
    if (!state.exists()) throw new NotFoundError(id, state.dir);
    await this.settle(id);
    if (!state.exists()) return;
    const rec = this.record(id);
    const live = !!rec && this.statusOf(id, rec, this.exitRecord(id, rec)) !== 'stopped';
    if (live || rec?.terminating) {
      if (!options.force) throw new ExecDriverError('ERR_STATE', 'is running: kill or terminate it first (or delete --force)', { containerId: id });
      await this.terminate(id);
      return;
    }
    await this.remove(id, rec);
  }

  /**
   * Kill the container and everything it has, whatever its state (a SIGKILLed terminate is finished
   * by the next one): marked `terminating` first, its processes killed, its monitor given time to
   * record the end, then its cgroups, network and state directory removed.
   */
  async terminate(id: string): Promise<void> {
    const state = this.state(id);
    const rec = this.record(id);
    if (!rec && !state.exists()) throw new NotFoundError(id, state.dir);
    if (rec) {
      rec.terminating = self();
      try {
        state.writeJson(STATE_FILE, rec);
      } catch {
        /* removed meanwhile */
      }
    }
    await this.destroy(id, rec);
  }

  // ---- settling -----------------------------------------------------------------------------

  /** Settle every record of this driver whose owner is gone (list, run and delete call it). */
  async settleAll(): Promise<void> {
    let names: string[] = [];
    try {
      names = readdirSync(join(this.root, this.driverName));
    } catch {
      return;
    }
    sweepRetired(this.root); // a killed process's retired state directories (StateDir.retire)
    let settled = false;
    for (const name of names) {
      const pending = pendingCreation(name);
      if (pending) {
        // a creation that died between mkdir and rename: nothing else exists yet
        if (!isSameProcessAlive(pending.pid, undefined)) rmSync(join(this.root, this.driverName, name), { recursive: true, force: true });
        continue;
      }
      if (name.startsWith('.')) continue;
      if (await this.settle(name).catch(() => false)) settled = true;
    }
    if (settled) await this.reclaimAddresses();
  }

  /** Give back the addresses whose owner is gone (a crash of Node or of a monitor). */
  protected async reclaimAddresses(): Promise<void> {
    await reclaimAddresses(this.root, (o) => ownerAlive(this.root, o));
  }

  /** Settle one record (see verdictOf); true when something was done. */
  async settle(id: string): Promise<boolean> {
    const state = this.state(id);
    let rec: AnyRecord | undefined;
    try {
      rec = this.record(id);
    } catch {
      rec = undefined; // unreadable: treated as a record-less directory
    }
    if (!rec) {
      let age = 0;
      try {
        age = Date.now() - statSync(state.dir).mtimeMs;
      } catch {
        return false;
      }
      if (age < ORPHAN_DIR_MS) return false;
      await this.destroy(id, undefined);
      return true;
    }
    const verdict = verdictOf(rec);
    if (verdict === 'keep') return false;
    if (verdict === 'reclaim') {
      const exit = this.exitRecord(id, rec);
      if (!exit) {
        if (rec.pid > 0 && isSameProcessAlive(rec.pid, rec.startTime)) {
          try {
            process.kill(rec.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
        await this.killContainer(id, rec).catch(() => {});
        await thawAfterKill(this.opsCgroup(id), 'SIGKILL');
        const killed: ExitRecord = { exitCode: 137, signal: 9, oomKills: 0, finishedAt: Date.now(), status: 9 };
        try {
          state.writeJson(EXIT_FILE, killed);
        } catch {
          /* removed meanwhile */
        }
      }
      // given back first, then written stopped: a crash in between repeats the reclaim
      await this.reclaim(id, rec);
      try {
        this.save(rec, 'stopped');
      } catch {
        /* removed meanwhile */
      }
      return false;
    }
    await this.destroy(id, rec);
    return true;
  }

  /**
   * Whether the driver made a container's network (its address, bridge port, published ports):
   * then a record without network state may be one a crash cut short, and its owner's port table
   * is removed too. execdriver-oci's containers never have one (the bundle names their namespaces).
   */
  protected makesNetworks(): boolean {
    return true;
  }

  private async releaseNet(id: string, rec: AnyRecord | undefined): Promise<void> {
    if (this.makesNetworks()) await releaseNetwork(this.root, ownerOf(this.driverName, id), rec?.network);
  }

  /** Give back what an ended container held (cgroups left by a crash, its address); the record stays. */
  protected async reclaim(id: string, rec: AnyRecord | undefined): Promise<void> {
    await this.releaseContainer(id, rec).catch(() => {});
    await this.releaseNet(id, rec);
    releaseRootfs(this.state(id).dir, false); // a host overlay mount left by a crash (lxc)
  }

  /** Remove an ended container: what it held, then its state directory (last, so a crash repeats it all). */
  protected async remove(id: string, rec: AnyRecord | undefined): Promise<void> {
    await this.reclaim(id, rec);
    removeRecord(this.state(id));
  }

  /** Kill everything of the container, let its monitor end (bounded), remove it all. */
  protected async destroy(id: string, rec: AnyRecord | undefined): Promise<void> {
    if (rec && rec.pid > 0 && isSameProcessAlive(rec.pid, rec.startTime)) {
      try {
        process.kill(rec.pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
    await this.killContainer(id, rec).catch(() => {});
    await thawAfterKill(this.opsCgroup(id), 'SIGKILL'); // paused: the SIGKILLs land on thaw
    if (rec && rec.monitorPid > 0) {
      const monitorAlive = () => isSameProcessAlive(rec.monitorPid, rec.monitorStartTime);
      const until = async (ms: number) => {
        const deadline = Date.now() + ms;
        while (monitorAlive() && Date.now() < deadline) await sleep(10);
        return !monitorAlive();
      };
      if (!(await until(5000))) {
        await this.stopMonitor(id, rec);
        if (!(await until(5000))) {
          try {
            process.kill(rec.monitorPid, 'SIGKILL');
          } catch {
            /* gone */
          }
          await until(2000);
        }
      }
    }
    await this.killContainer(id, rec).catch(() => {});
    await this.releaseContainer(id, rec);
    await this.releaseNet(id, rec);
    removeRecord(this.state(id));
  }

  /** Another process in the running container (src/exec/): the same setns path for every driver. */
  async exec(id: string, process: ExecProcess, options: ExecOptions = {}): Promise<ExecHandle> {
    return execInContainer({ root: this.root, driver: this.driverName, state: this.state(validateId(id)), rootless: this.rootless }, process, options);
  }

  // ---- ops (issue 9): pause/resume, stats, update, top (src/ops/), on the driver's opsCgroup ----

  private opsTarget(id: string, what: string): OpsTarget {
    return runningTarget(id, what, () => ({
      root: this.root,
      driver: this.driverName as OpsTarget['driver'],
      id,
      pid: this.runningRecord(id).pid,
      cgroup: this.opsCgroup(id),
    }));
  }

  async pause(id: string): Promise<void> {
    await pauseContainer(this.opsTarget(id, 'pause'));
  }

  async resume(id: string): Promise<void> {
    await resumeContainer(this.opsTarget(id, 'unpause'));
  }

  async stats(id: string, options: StatsOptions = {}): Promise<ContainerStats> {
    return containerStats(this.opsTarget(id, 'read the statistics of'), options);
  }

  async update(id: string, resources: Resources): Promise<void> {
    await updateContainer(this.opsTarget(id, 'update'), resources);
  }

  async top(id: string): Promise<ProcessInfo[]> {
    return containerTop(this.opsTarget(id, 'list the processes of'));
  }
}
