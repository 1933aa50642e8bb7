/**
 * /metrics' exposition: every sample line is `name{labels} value`, every
 * metric has its HELP and TYPE, and the step histogram's buckets are
 * cumulative, as Prometheus reads them.
 */
import type { ContextMetrics } from '../../lib/context-metrics';
import { metricsText } from '../../lib/server/metrics';

const engine: ContextMetrics = {
  generationsStarted: 5, generationsFinished: 5, generationsFailed: 1, generatedTokens: 40, evaluatedTokens: 90,
  steps: 6, evictions: 2, running: 0, waiting: 0, sequences: 8, busySequences: 0, cells: 4096, kvTokens: 130,
  stepSeconds: { bounds: [0.01, 0.1, 1], counts: [1, 3, 0, 2], sum: 7.5 },
};

test('the exposition is Prometheus text with cumulative histogram buckets', () => {
  const text = metricsText({ requestsByStatus: new Map([[503, 2], [200, 5]]), completions: 5, promptTokens: 100,
    completionTokens: 40 }, { slots: 4, busy: 1, queued: 0, queueSize: 16 }, engine);
  const lines = text.trimEnd().split('\n');
  const samples = lines.filter((line) => !line.startsWith('#'));
  for (const line of samples) expect(line).toMatch(/^amulet_[a-z_]+(\{[a-z]+="[^"]*"\})? -?[0-9.e+]+$/);
  const names = new Set(samples.map((line) => /^[a-z_]+/.exec(line)![0].replace(/_(bucket|sum|count)$/, '')));
  for (const name of names) {
    expect(lines.some((line) => line.startsWith(`# TYPE ${name} `))).toBe(true);
    expect(lines.some((line) => line.startsWith(`# HELP ${name} `))).toBe(true);
  }
  expect(samples).toEqual(expect.arrayContaining([
    'amulet_http_requests_total{code="200"} 5',
    'amulet_http_requests_total{code="503"} 2',
    'amulet_slots_busy 1',
    'amulet_kv_evictions_total 2',
    'amulet_decode_step_seconds_bucket{le="0.01"} 1',
    'amulet_decode_step_seconds_bucket{le="0.1"} 4',
    'amulet_decode_step_seconds_bucket{le="1"} 4',
    'amulet_decode_step_seconds_bucket{le="+Inf"} 6',
    'amulet_decode_step_seconds_sum 7.5',
    'amulet_decode_step_seconds_count 6',
  ]));
  // The status codes in order, so two scrapes list them alike.
  expect(samples.findIndex((line) => line.includes('code="200"'))).toBeLessThan(
    samples.findIndex((line) => line.includes('code="503"')));
});
