/** Exhaustiveness check for discriminated unions: the compiler proves this is unreachable. */
export function assertNever(value: never, context = 'value'): never {
  throw new Error(`Unhandled ${context}: ${JSON.stringify(value)}`);
}
