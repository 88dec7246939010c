// A writable stream that keeps what a command prints, for tests that assert the words a person would read.
import { Writable } from 'node:stream';

export interface CapturedOutput {
  stream: Writable;
  text: () => string;
}

export function capturedOutput(): CapturedOutput {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}
