// The storage names: valid for Azure (what the service would refuse fails here, not at deployment), and distinct.
import { describe, expect, it } from 'vitest';

import { BLOB_CONTAINERS, collectionPlanBlobName, incomingBlobName, QUEUES, TABLES } from '../../src/storage/names';

describe('storage names', () => {
  it('follow the Azure naming rules of their kind', () => {
    // Containers and queues: 3-63 lower-case letters, digits and single hyphens, starting with a letter or digit.
    for (const name of [...BLOB_CONTAINERS, ...QUEUES]) expect(name).toMatch(/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/);
    // Tables: 3-63 letters and digits, starting with a letter.
    for (const name of TABLES) expect(name).toMatch(/^[A-Za-z][A-Za-z0-9]{2,62}$/);
  });

  it('are distinct within their kind', () => {
    for (const names of [BLOB_CONTAINERS, QUEUES, TABLES]) expect(new Set(names).size).toBe(names.length);
  });

  it('build the shared blob paths', () => {
    expect(collectionPlanBlobName('clothes')).toBe('clothes/collection.json');
    expect(incomingBlobName('fridge', 'can+carton', '12.jpg')).toBe('fridge/can+carton/12.jpg');
  });
});
