/**
 * The server's slot pool without a model: a request goes to the slot that
 * holds the most of its conversation, a new one to the least recently used
 * slot; the queue is FIFO and bounded (503 with Retry-After beyond it); a
 * request whose client leaves while it waits leaves the queue; closing
 * refuses the waiting.
 */
import { ApiError } from '../../lib/server/api-error';
import { SlotPool, sharedMessages, type Conversation } from '../../lib/server/slot-pool';
import type { ChatMessage } from '../../lib/session';

const system = 'You are a helpful assistant.';

function conversation(...contents: string[]): Conversation {
  const messages: ChatMessage[] = contents.map((content, index) => ({ role: index % 2 === 0 ? 'user' : 'assistant', content }));
  return { systemPrompt: system, messages };
}

const never = new AbortController().signal;

describe('sharedMessages', () => {
  it('counts the system prompt and then equal leading messages; a different system prompt shares nothing', () => {
    expect(sharedMessages(conversation('a', 'b', 'c'), conversation('a', 'b', 'd'))).toBe(3);
    expect(sharedMessages(conversation('a', 'b'), conversation('a', 'b', 'c'))).toBe(3);
    expect(sharedMessages(conversation('x'), conversation('a'))).toBe(1);
    expect(sharedMessages({ systemPrompt: 'other', messages: [] }, conversation('a'))).toBe(0);
    const roles: Conversation = { systemPrompt: system, messages: [{ role: 'assistant', content: 'a' }] };
    expect(sharedMessages(roles, conversation('a'))).toBe(1);
  });
});

describe('SlotPool', () => {
  it("routes a conversation's next turn to the slot that holds it, a new conversation to the least recently used", async () => {
    const pool = new SlotPool(['s0', 's1', 's2'], 4);
    const first = await pool.acquire(conversation('A1'), never);
    expect(first.index).toBe(0);
    pool.release(first, conversation('A1', 'answer'));
    // B shares only the system prompt with slot 0: it takes an unused slot rather than evict A.
    const b = await pool.acquire(conversation('B1'), never);
    expect(b.index).toBe(1);
    pool.release(b, conversation('B1', 'answer'));
    const a2 = await pool.acquire(conversation('A1', 'answer', 'A2'), never);
    expect(a2.index).toBe(0);
    // While slot 0 is busy, A's next turn goes to the least recently used of the others.
    const other = await pool.acquire(conversation('A1', 'answer', 'A2'), never);
    expect(other.index).toBe(2);
    pool.release(a2, conversation('A1', 'answer', 'A2', 'answer'));
    pool.release(other, undefined);
    // Regenerating a turn (the same messages again) finds its slot too.
    const again = await pool.acquire(conversation('B1'), never);
    expect(again.index).toBe(1);
    expect(pool.status()).toEqual({ slots: 3, busy: 1, queued: 0, queueSize: 4 });
  });

  it('queues in order up to queueSize, refuses beyond with 503 and Retry-After, and hands freed slots to the head', async () => {
    const pool = new SlotPool(['only'], 2);
    const running = await pool.acquire(conversation('a'), never);
    const order: string[] = [];
    const second = pool.acquire(conversation('b'), never).then((slot) => {
      order.push('b');
      return slot;
    });
    const third = pool.acquire(conversation('c'), never).then((slot) => {
      order.push('c');
      return slot;
    });
    expect(pool.status()).toMatchObject({ busy: 1, queued: 2 });
    const refused = await pool.acquire(conversation('d'), never).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 503, code: 'server_overloaded', headers: { 'Retry-After': '1' } });
    pool.release(running, undefined);
    pool.release(await second, undefined);
    pool.release(await third, undefined);
    expect(order).toEqual(['b', 'c']);
    expect(pool.status()).toMatchObject({ busy: 0, queued: 0 });
  });

  it('a waiting request whose signal fires leaves the queue; the next one gets the slot', async () => {
    const pool = new SlotPool(['only'], 2);
    const running = await pool.acquire(conversation('a'), never);
    const leaving = new AbortController();
    const left = pool.acquire(conversation('b'), leaving.signal).catch((error: unknown) => error);
    const staying = pool.acquire(conversation('c'), never);
    leaving.abort(new Error('client gone'));
    expect(await left).toEqual(new Error('client gone'));
    expect(pool.status().queued).toBe(1);
    pool.release(running, undefined);
    expect((await staying).index).toBe(0);
    expect(pool.status()).toMatchObject({ busy: 1, queued: 0 });
  });

  it('close refuses the waiting requests and every later one', async () => {
    const pool = new SlotPool(['only'], 2);
    await pool.acquire(conversation('a'), never);
    const waiting = pool.acquire(conversation('b'), never).catch((error: unknown) => error);
    const closing = new ApiError(503, 'the server is shutting down');
    pool.close(closing);
    expect(await waiting).toBe(closing);
    await expect(pool.acquire(conversation('c'), never)).rejects.toBe(closing);
  });
});
