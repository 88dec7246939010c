// Polls until a probe has an answer, for what tests see happen in the background (a host, a queue, a timer).

/** Calls `probe` every 100 ms until it returns something other than undefined, and returns that; throws after `timeoutInMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutInMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutInMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
