// A terminal for progress-bar tests that records what is drawn, frame by frame, as a person would read it.

export interface FakeTerminal {
  stream: NodeJS.WriteStream;
  /** Each redraw's text without the terminal's escapes, empty frames left out. */
  frames: () => string[];
}

/** Each redraw starts at column 0 (readline's cursorTo writes ESC[1G), so that is where frames are cut. */
export function fakeTerminal(): FakeTerminal {
  let written = '';
  const stream = {
    isTTY: true,
    columns: 120,
    write(chunk: string | Uint8Array) {
      written += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return {
    stream,
    frames: () =>
      written
        .split('\x1b[1G')
        .flatMap((part) => part.split('\n'))
        // eslint-disable-next-line no-control-regex -- the terminal's own escapes are what is stripped
        .map((frame) => frame.replace(/\x1b(?:\[[\d;?]*[A-Za-z]|[78])/g, '').trimEnd())
        .filter((frame) => frame !== ''),
  };
}
