#!/usr/bin/env node
// A committed entry point, so npm links the `silico` command at install time (before `prepare`
// has built dist/). Importing the CLI module has no side effects; this file runs it.
import { main } from "../dist/cli/main.js";

await main();
