/**
 * The shared contract suite over the lxc driver (registered by importing src/lxc/index.js,
 * until src/index.ts imports it). Nothing is skipped: tty runs lxc-start on a terminal that the
 * C monitor keeps (src/lxc/terminal.ts).
 */
import '../../src/lxc/index.js';
import { contractSuite } from '../contract/suite.js';

contractSuite('lxc');
