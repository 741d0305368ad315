/**
 * The few promise-returning file operations of a container's run path (the state files, the
 * cgroups, the overlay), made from `node:fs`'s callback functions. They run on libuv's thread
 * pool as `node:fs/promises` does, but loading `node:fs/promises` costs a command line that runs
 * one container ~2 ms of its start (it brings `readline` and the file-handle classes with it:
 * bench/STARTUP.md, round 4); `node:fs` is loaded by every Node process anyway.
 */
import { chmod as chmodCb, readdir as readdirCb, readFile as readFileCb, rename as renameCb, rm as rmCb, rmdir as rmdirCb, stat as statCb, writeFile as writeFileCb } from 'node:fs';
import { promisify } from 'node:util';

export const chmod = promisify(chmodCb);
export const readFile = promisify(readFileCb);
export const readdir = promisify(readdirCb);
export const rename = promisify(renameCb);
export const rm = promisify(rmCb);
export const rmdir = promisify(rmdirCb);
export const stat = promisify(statCb);
export const writeFile = promisify(writeFileCb);
