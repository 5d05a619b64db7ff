// The trainer node's serving side: model catalogs, the model server (IPFS -> engine), the HTTP API.
export { chainCatalog, staticCatalog } from "./catalog.ts";
export type { ChainCatalogOptions } from "./catalog.ts";
export { ModelServer } from "./models.ts";
export type { ChatOptions, ChatResult, ModelServerOptions, ModelServerStats } from "./models.ts";
export { startApi } from "./api.ts";
export type { ApiOptions, ApiServer } from "./api.ts";
export { parseChatRequest } from "./validate.ts";
export type { ChatRequest } from "./validate.ts";
export { BadRequestError, ContentMismatchError, ContentUnavailableError, ModelNotFoundError, ServeError } from "./errors.ts";
export { Billing, PaymentRequiredError, tokenCost } from "./billing.ts";
export type { BillingOptions } from "./billing.ts";
export { CitationIndex } from "./citations.ts";
export type { CitationSource, Span } from "./citations.ts";
