/** What a benchmark hands back to bench/index.ts for the final summary. */
export interface Section {
  title: string;
  lines: string[];
}

export function progress(line: string): void {
  process.stdout.write(`  ${line}\n`);
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
