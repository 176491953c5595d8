// The environment of a running local stack: what `npm run stack -- env` prints and what the worker,
// the Edge Functions and the tests are started with. Names follow what Supabase injects.

import { FUNCTIONS_PORT, HOST, STORAGE_DIR } from "./layout.ts";
import { POOLER_URL } from "./pooler.ts";
import { DB_URL } from "./postgres.ts";
import { loadOrCreateSecrets } from "./secrets.ts";

export const SUPABASE_URL = `http://${HOST}:${FUNCTIONS_PORT}`;
export const FUNCTIONS_URL = `${SUPABASE_URL}/functions/v1`;

export function stackEnv(): Record<string, string> {
  const secrets = loadOrCreateSecrets();
  return {
    DATABASE_URL: DB_URL,
    SUPABASE_DB_URL: DB_URL,
    // The transaction pooler; not SUPABASE_-prefixed because hosted function secrets may not be.
    DB_POOLER_URL: POOLER_URL,
    SUPABASE_URL,
    FUNCTIONS_URL,
    SUPABASE_SERVICE_ROLE_KEY: secrets.SUPABASE_SERVICE_ROLE_KEY,
    SUPABASE_ANON_KEY: secrets.SUPABASE_ANON_KEY,
    WEBHOOK_SECRET: secrets.WEBHOOK_SECRET,
    STORAGE_DIR,
    LOCAL_MODE: "true",
    // The local server hands text/html to the browser as is, as a hosted project does only through a
    // custom domain: the gallery's default answer is its HTML page here (functions/images/gallery-answer.ts).
    GALLERY_HTML: "true",
    // For the functions server, and for processes that start a stack of their own beside this one.
    FUNCTIONS_PORT: String(FUNCTIONS_PORT),
    STACK_PORT_OFFSET: String(FUNCTIONS_PORT - 54321),
  };
}
