// TypeScript's DOM library does not describe Trusted Types yet; these are the parts Parley uses.

/** A script URL that a Trusted Types policy vouched for; the browser accepts it where the CSP refuses plain strings. */
interface TrustedScriptURL {
  toString(): string;
  toJSON(): string;
}

interface TrustedTypePolicy {
  readonly name: string;
  createScriptURL(input: string): TrustedScriptURL;
}

interface TrustedTypePolicyFactory {
  createPolicy(name: string, rules: { readonly createScriptURL?: (input: string) => string }): TrustedTypePolicy;
}

/** Present in browsers that implement Trusted Types (Chromium-based ones among them), absent in Node. */
declare var trustedTypes: TrustedTypePolicyFactory | undefined;
