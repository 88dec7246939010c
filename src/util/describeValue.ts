// An untyped value (a thrown value, a field of parsed JSON) in a message: the text of a primitive as String gives it,
// JSON for objects and arrays, so that a message never reads "[object Object]".
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
    case 'function':
      return String(value);
    case 'symbol':
      return value.toString();
    default:
      if (value === null) return 'null';
      try {
        return JSON.stringify(value);
      } catch {
        return Object.prototype.toString.call(value); // a cycle or a BigInt inside: JSON cannot show it.
      }
  }
}
