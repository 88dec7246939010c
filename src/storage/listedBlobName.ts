// The name a blob listing really means. The Storage SDK's XML parser decodes the five named entities but not numeric
// character references, so a blob named "a\rb", which the service (and Azurite) lists as "a&#xD;b", comes back from
// `listBlobsFlat` as the literal "a&#xD;b": a name with no blob behind it. Such a name could also be meant literally,
// so the blob's ETag decides.
import { type ContainerClient, RestError } from '@azure/storage-blob';

const NUMERIC_REFERENCE = /&#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}));/g;

/** `name` with its XML numeric character references (`&#xD;`, `&#13;`) decoded; references to no character stay. */
export function decodeNumericReferences(name: string): string {
  return name.replace(NUMERIC_REFERENCE, (reference, hex: string | undefined, decimal: string | undefined) => {
    const codePoint = hex !== undefined ? Number.parseInt(hex, 16) : Number.parseInt(decimal!, 10);
    return codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : reference;
  });
}

/**
 * The name of the blob a listing entry stands for: the decoded name when the blob there has the listed ETag, else
 * the name as listed (a blob deleted meanwhile is then the caller's usual "not found").
 */
export async function resolveListedBlobName(
  container: ContainerClient,
  listedName: string,
  etag: string,
): Promise<string> {
  const decoded = decodeNumericReferences(listedName);
  if (decoded === listedName) return listedName;
  try {
    const properties = await container.getBlobClient(decoded).getProperties();
    if (unquoted(properties.etag) === unquoted(etag)) return decoded;
  } catch (error) {
    if (!(error instanceof RestError && error.statusCode === 404)) throw error;
  }
  return listedName;
}

// Listings give ETags bare, blob properties give them quoted.
function unquoted(etag: string | undefined): string {
  return (etag ?? '').replace(/"/g, '');
}
