/** Loads `config.json` from beside the page at run time, so a self-hoster changes it without a rebuild. */
import { parseAppConfig, type ConfigResult } from '../../core/protocol/appConfig.ts';

export async function loadConfig(): Promise<ConfigResult> {
  let response: Response;
  try {
    response = await fetch(new URL('config.json', document.baseURI), { cache: 'no-cache' });
  } catch (error) {
    return { ok: false, reason: `config.json could not be loaded (${String(error)})` };
  }
  if (!response.ok) return { ok: false, reason: `config.json answered HTTP ${response.status}` };
  let value: unknown;
  try {
    value = await response.json();
  } catch {
    return { ok: false, reason: 'config.json is not valid JSON' };
  }
  return parseAppConfig(value);
}
