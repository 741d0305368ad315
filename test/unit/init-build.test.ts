import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBuildCommand } from '../../src/init/monitor.js';

describe('the command that builds the init', () => {
  it('is npm rebuild (or the install script) in an installed package, npm run build in a checkout', () => {
    const installed = initBuildCommand('/srv/app/node_modules/execdriver/native/execdriver-init');
    assert.match(installed, /^`npm rebuild execdriver` \(or `node \/srv\/app\/node_modules\/execdriver\/scripts\/build-init\.mjs` where/);
    assert.equal(initBuildCommand('/home/me/execdriver/native/execdriver-init'), '`npm run build`');
  });
});
