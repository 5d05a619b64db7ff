// @tributary/sdk/http: the guard local services put in front of their handlers (web origins, DNS
// rebinding, body caps). See guard.ts.
export {
  capBody,
  closeAfterResponse,
  createHttpGuard,
  DEFAULT_MAX_BODY_BYTES,
  HttpGuardError,
  isLoopback,
  normalizeOrigin,
  parseAllowedOrigins,
  readBody,
  type GuardOptions,
  type HttpGuard,
} from "./guard.ts";
