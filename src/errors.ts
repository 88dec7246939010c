// Error types of the domain. Each says what is wrong in terms a user can act on.

/** An app setting is missing or invalid; the message names the setting. */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

/** A caller passed a bad argument (a name with path tricks, an unknown status); maps to HTTP 400. */
export class InvalidArgumentError extends Error {
  override name = 'InvalidArgumentError';
}

/** Something the caller asked for does not exist; maps to HTTP 404. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}
