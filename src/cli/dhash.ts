// `icf dhash FILE...`: each file's 256-bit dHash (imagehash-compatible), printed like sha256sum.
import { readFile } from 'node:fs/promises';

import { decodeRasterLikePillow } from '../dataset/validate';
import { dhashFromPixels } from '../image/dhash';
import { describeCliError } from './errors';
import { parseArgs, UsageError } from './options';

export const DHASH_USAGE = `usage: icf dhash FILE...
  print each file's 256-bit dHash (bit-compatible with imagehash.dhash(image, hash_size=16)) like sha256sum`;

/** The decoder's pixel limit for hashing from the command line (the ingest limit is an app setting). */
const CLI_MAX_PIXELS = 256_000_000;

export async function dhashCommand(
  args: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const { positional: files } = parseArgs(args, { values: [], command: 'dhash' });
  if (files.length === 0) throw new UsageError('dhash', 'dhash needs at least one FILE');
  let failures = 0;
  for (const file of files) {
    try {
      const content = await readFile(file);
      const hash = dhashFromPixels(await decodeRasterLikePillow(content, { limitInputPixels: CLI_MAX_PIXELS }));
      out.write(`${hash}  ${file}\n`);
    } catch (error) {
      failures++;
      err.write(`icf: ${describeCliError(error, file)}\n`);
    }
  }
  return failures === 0 ? 0 : 1;
}
