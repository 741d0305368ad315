// The command line from the compiled modules (bin/execdriver runs it when there is no bundle, or tsc
// ran since the bundle was made).
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
