import { limitMemory } from './heap.js';
import { run } from './main.js';

limitMemory();
await run();
