// The local host's binding helpers: HTTP route templates and blob path patterns.
import { describe, expect, it } from 'vitest';

import { compileBlobPath } from '../../src/host/blobTrigger';
import { compileRoute } from '../../src/host/route';

describe('routes and blob paths', () => {
  it('matches route templates with parameters', () => {
    const route = compileRoute('api/datasets/{dataset}/images');
    expect(route.match('/api/datasets/shirts/images')).toEqual({ dataset: 'shirts' });
    expect(route.match('/api/datasets/shirts')).toBeUndefined();
    expect(route.match('/API/Datasets/a%20b/images/')).toEqual({ dataset: 'a b' });
    expect(compileRoute('api/items/{id:int}').match('/api/items/x')).toBeUndefined();
    expect(compileRoute('api/files/{*path}').match('/api/files/a/b/c')).toEqual({ path: 'a/b/c' });
  });

  it('matches blob paths, the last parameter taking the rest of the name', () => {
    const pattern = compileBlobPath('incoming/{dataset}/{label}/{name}');
    expect(pattern.container).toBe('incoming');
    expect(pattern.match('shirts/striped/a.jpg')).toEqual({ dataset: 'shirts', label: 'striped', name: 'a.jpg' });
    expect(pattern.match('shirts/striped/deeper/a.jpg')).toEqual({
      dataset: 'shirts',
      label: 'striped',
      name: 'deeper/a.jpg',
    });
    expect(pattern.match('shirts/a.jpg')).toBeUndefined();
    // Line terminators are characters of a name like any other.
    expect(pattern.match('shirts/striped/a\nb.jpg')).toEqual({ dataset: 'shirts', label: 'striped', name: 'a\nb.jpg' });
    expect(compileBlobPath('incoming/{blobPath}').match('ds//x\u2028.jpg')).toEqual({ blobPath: 'ds//x\u2028.jpg' });
  });
});
