import { describe, expect, it } from 'vitest';

import { computeTestMetrics, TEST_METRICS } from '../../../src/train/testMetrics';

describe('the test metrics registry', () => {
  const labels = ['cat', 'dog', 'fox'];
  // Four cats (three right), one dog (right), no fox.
  const labelSets = [[0], [0], [0], [0], [1]];
  const scores = [
    [0.8, 0.1, 0.1],
    [0.6, 0.3, 0.1],
    [0.5, 0.4, 0.1],
    [0.2, 0.7, 0.1],
    [0.1, 0.9, 0.0],
  ];

  it('computes every single-label metric, by hand', () => {
    const figures = computeTestMetrics('single-label', { labels, labelSets, scores });
    expect(Object.keys(figures).sort()).toEqual(['balancedAccuracy', 'logLoss']);
    // Recalls 3/4 (cat) and 1/1 (dog); the fox has no test image and does not count.
    expect(figures['balancedAccuracy']).toBeCloseTo((0.75 + 1) / 2, 12);
    const expected = -(Math.log(0.8) + Math.log(0.6) + Math.log(0.5) + Math.log(0.2) + Math.log(0.9)) / 5;
    expect(figures['logLoss']).toBeCloseTo(expected, 12);
  });

  it('computes the multi-label ones, and keeps a certain mistake finite', () => {
    const figures = computeTestMetrics('multi-label', {
      labels: ['a', 'b'],
      labelSets: [[0], [0, 1]],
      scores: [
        [0.9, 0.2],
        [1, 0],
      ],
    });
    expect(Object.keys(figures)).toEqual(['binaryLogLoss']);
    const expected = -(Math.log(0.9) + Math.log(0.8) + Math.log(1) + Math.log(1e-15)) / 4;
    expect(figures['binaryLogLoss']).toBeCloseTo(expected, 9);
  });

  it('gives null where the split cannot give a figure, and names are unique', () => {
    expect(computeTestMetrics('single-label', { labels, labelSets: [], scores: [] })).toEqual({
      balancedAccuracy: null,
      logLoss: null,
    });
    const names = TEST_METRICS.map((metric) => metric.name);
    expect(new Set(names).size).toBe(names.length);
    for (const metric of TEST_METRICS) expect(metric.description.length).toBeGreaterThan(10);
  });
});
