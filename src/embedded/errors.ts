/** A problem with an embedded service that the user can act on: printed as one line, exit 1. */
export class EmbeddedError extends Error {}
