import { describe, expect, it } from 'vitest';
import { decide, type EventInfo } from '../../src/github/event.js';

const pr = (action: string): EventInfo => ({ name: 'pull_request', action, repository: 'o/r' });

describe('decide', () => {
  it.each(['opened', 'synchronize', 'reopened'])('pull_request %s gives up', (a) =>
    expect(decide('auto', pr(a))).toEqual({ command: 'up' }),
  );
  it('pull_request closed gives down', () =>
    expect(decide('auto', pr('closed'))).toEqual({ command: 'down' }));
  it('other pull_request actions do nothing and say why', () => {
    const d = decide('auto', pr('edited'));
    expect(d.command).toBe('skip');
  });
  it('an explicit command wins over the event', () => {
    expect(decide('down', pr('opened'))).toEqual({ command: 'down' });
    expect(decide('up', { name: 'workflow_dispatch', repository: 'o/r' })).toEqual({ command: 'up' });
  });
  it('auto on another event asks for an explicit command', () => {
    const d = decide('auto', { name: 'push', repository: 'o/r' });
    expect(d).toMatchObject({ command: 'skip' });
    if (d.command === 'skip') expect(d.reason).toMatch(/command: up/);
  });
});
