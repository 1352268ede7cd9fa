#!/usr/bin/env node
// A committed entry point, so npm links the `silico` command at install time (before `prepare`
// has built dist/).
import "../dist/cli/main.js";
