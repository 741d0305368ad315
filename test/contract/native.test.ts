import { contractSuite } from './suite.js';

contractSuite('native');
