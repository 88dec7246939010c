// The demo's closing report says how far its few test images pin the test accuracy down.
import { describe, expect, it } from 'vitest';

import type { DemoReport } from '../../src/demo/pipeline';
import { formatDemoReport } from '../../src/demo/report';

function report(accuracy: number, testImages: number): DemoReport {
  return {
    dataset: 'demo',
    reused: { dataset: false, model: false },
    images: { collected: 126, accepted: 110, duplicate: 8, nearDuplicate: 6, rejected: 2 },
    labels: { striped: { train: 20, test: 5 } },
    model: { version: 'v1', accuracy, testImages, labels: ['striped'], confusionMatrix: [[testImages]] },
    classifications: [],
    stepsInS: { collect: 12, ingest: 5, train: 97, classify: 1.2 },
  };
}

describe('formatDemoReport', () => {
  it('gives the test accuracy with its 95 % Wilson interval over the test images', () => {
    expect(formatDemoReport(report(25 / 26, 26), { baseUrl: 'http://localhost:7071' })).toContain(
      '  test accuracy: 96.2% of 26 test images (±9.1 points at 95%; images the training never saw; from metrics.json)',
    );
    expect(formatDemoReport(report(0.9, 5000), { baseUrl: 'http://localhost:7071' })).toContain(
      'test accuracy: 90.0% of 5000 test images (±0.8 points at 95%; ',
    );
    expect(formatDemoReport(report(0, 0), { baseUrl: 'http://localhost:7071' })).toContain(
      'test accuracy: 0.0% of 0 test images (images the training never saw; from metrics.json)',
    );
  });
});
