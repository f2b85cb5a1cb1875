// The `hako` executable's entry point (bin/hako runs it, or its startup snapshot).
import { main } from './main.js';

await main(process.argv);
