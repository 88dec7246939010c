// Matches request paths against Functions route templates such as `datasets/{dataset}/images`.

export interface RouteMatcher {
  template: string;
  match(path: string): Record<string, string> | undefined;
}

/** Supports literal segments, `{name}`, `{name?}` (optional, last) and `{*rest}` (catch-all, last); constraints like `{id:int}` are checked for int/alpha. */
export function compileRoute(template: string): RouteMatcher {
  const segments = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter((s) => s.length > 0);
  const parts = segments.map((segment) => {
    const param = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}$/.exec(segment);
    if (!param) return { literal: segment.toLowerCase() } as const;
    return { name: param[2]!, catchAll: param[1] === '*', constraint: param[3], optional: param[4] === '?' } as const;
  });
  return {
    template,
    match(path) {
      const pieces = path
        .replace(/^\/+|\/+$/g, '')
        .split('/')
        .filter((s) => s.length > 0);
      const params: Record<string, string> = {};
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        const piece = pieces[i];
        if ('literal' in part) {
          if (piece === undefined || piece.toLowerCase() !== part.literal) return undefined;
          continue;
        }
        if (part.catchAll) {
          params[part.name] = pieces.slice(i).map(safeDecode).join('/');
          return params;
        }
        if (piece === undefined) return part.optional ? params : undefined;
        const value = safeDecode(piece);
        if (part.constraint === 'int' && !/^-?\d+$/.test(value)) return undefined;
        if (part.constraint === 'alpha' && !/^[A-Za-z]+$/.test(value)) return undefined;
        params[part.name] = value;
      }
      return pieces.length === parts.length ? params : undefined;
    },
  };
}

function safeDecode(piece: string): string {
  try {
    return decodeURIComponent(piece);
  } catch {
    return piece;
  }
}
