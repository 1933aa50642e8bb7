/**
 * The OpenAI-compatible server: {@link createServer} and what it reports.
 *
 * @packageDocumentation
 */

export { AmuletServer, createServer, type ServerOptions, type ServerRequestRecord, type ServerStatus } from './server';
export type { CompletionRecord } from './chat-completion';
export type { AmuletChunkTrace, AmuletInfo, AmuletTokenTrace, AmuletTopToken, CompletionUsage } from './chat-response';
