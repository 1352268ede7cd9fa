/** silico studio: build, run and read silico studies in the browser. */
export { startStudio, type StudioHandle, type StudioOptions } from "./server.js";
export { createStudioApp, type StudioParts } from "./app.js";
export { TOKEN_COOKIE, TOKEN_HEADER } from "./security.js";
