import { keepYoungGenerationSize } from './heap.js';
import { run } from './main.js';

keepYoungGenerationSize();
await run();
